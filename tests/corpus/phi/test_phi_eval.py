"""The PHI gold readers and the scores `medmix phi-eval` reports."""

from medmix.corpus.phi.evaluate import score
from medmix.corpus.phi.gold import AnnotatedNote, read_physionet, read_presidio_synthetic
from medmix.corpus.phi.spans import Span


def test_physionet_dev_split_offsets_point_at_the_phrases(shared):
    folder = shared / "phi" / "physionet_deid_dev"
    notes = read_physionet(folder / "id.text", folder / "id-phi.phrase")
    assert len(notes) == 1493
    spans = [(note, span) for note in notes for span in note.spans]
    assert len(spans) == 1143
    phrases = {line.split(maxsplit=5)[5].strip() for line in (folder / "id-phi.phrase").read_text().splitlines()}
    assert all(note.text[span.start:span.end].strip() in phrases for note, span in spans)
    first = next(note for note in notes if note.id == "1-1")
    assert first.text[48:55] == "CALVERT" and first.spans[0] == Span(48, 55, "Location")


def test_presidio_synthetic_set(shared):
    notes = read_presidio_synthetic(shared / "phi" / "presidio_synth_dataset_v2.json")
    assert len(notes) == 1500
    first = notes[0]
    assert first.text[15:22] == "Persint" and Span(15, 22, "ORGANIZATION") in first.spans


NOTE = AnnotatedNote("n", "Pt John Smith seen 7/22 at GH.", [Span(3, 13, "PTName"), Span(19, 23, "Date"),
                                                              Span(27, 29, "Location")])


def test_perfect_empty_and_partial_predictions():
    perfect = score([NOTE], {"n": NOTE.spans})
    assert (perfect.strict_recall, perfect.lenient_recall, perfect.char_precision) == (1.0, 1.0, 1.0)
    nothing = score([NOTE], {})
    assert (nothing.strict_recall, nothing.lenient_recall) == (0.0, 0.0)
    # "John" only: the name overlaps (lenient) but is not fully redacted (strict); "7/22 at" over-redacts
    partial = score([NOTE], {"n": [Span(3, 7, "NAME"), Span(19, 26, "DATE")]})
    assert partial.strict_recall == 1 / 3 and partial.lenient_recall == 2 / 3
    assert partial.char_precision == (4 + 4) / (4 + 6)  # "at" is not PHI; the space is not counted
    assert partial.category_recall() == {"Date": (1.0, 1), "Location": (0.0, 1), "PTName": (0.0, 1)}


def test_spaces_inside_a_span_need_not_be_redacted():
    split = score([NOTE], {"n": [Span(3, 7, "NAME"), Span(8, 13, "NAME"), Span(19, 23, "DATE"),
                                 Span(27, 29, "LOCATION")]})
    assert split.strict_recall == 1.0 and split.char_precision == 1.0


def test_alnum_recall_forgives_punctuation_that_the_gold_span_took_in():
    note = AnnotatedNote("p", "Call 617-555-0143. Thanks", [Span(5, 18, "Phone")])  # the gold span ends with "."
    digits_only = score([note], {"p": [Span(5, 17, "PHONE")]})
    assert digits_only.alnum_recall == 1.0 and digits_only.strict_recall == 0.0
    assert digits_only.category_recall() == {"Phone": (1.0, 1)}
    half = score([note], {"p": [Span(5, 12, "PHONE")]})
    assert half.alnum_recall == 0.0 and half.lenient_recall == 1.0
