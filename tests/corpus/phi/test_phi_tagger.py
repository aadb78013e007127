"""The learned PHI tagger and what feeds it: folds by patient, augmentation, features, known identifiers."""

import json
import random
from pathlib import Path

import pytest

from medmix.corpus.phi.augment import SurrogateMaker, SyntheticNotes, augmented, with_case_of
from medmix.corpus.phi.context import tokenize
from medmix.corpus.phi.features import shape, token_labels
from medmix.corpus.phi.folds import FROZEN, assign_folds, cross_validation_folds, patient_of, split
from medmix.corpus.phi.gold import AnnotatedNote, read_gold_dir
from medmix.corpus.phi.known import KnownIdentifiers, KnownIdentifiersError
from medmix.corpus.phi.scrubber import PhiScrubber, ScrubberSettings
from medmix.corpus.phi.spans import Span
from medmix.corpus.phi.tagger import PhiTagger, bundled_model, spans_from_labels, train_on_gold

NOTE = AnnotatedNote("7-1", "Dtr KAREN called from CALVERT on 7/22, cell 410-555-0199. Seen by Dr. Healey.",
                     [Span(4, 9, "RelativeProxyName"), Span(22, 29, "Location"), Span(33, 37, "Date"),
                      Span(44, 56, "Phone"), Span(70, 76, "HCPName")])


def test_folds_keep_each_patient_on_one_side_and_do_not_depend_on_order():
    notes = [AnnotatedNote(f"{patient}-{n}", "x") for patient in range(40) for n in range(patient % 7 + 1)]
    folds = assign_folds(notes)
    assert folds == assign_folds(list(reversed(notes)))
    assert set(folds.values()) == {0, 1, 2, 3, 4} and FROZEN not in cross_validation_folds()
    sizes = [len(split(notes, [fold], folds)) for fold in range(5)]
    assert max(sizes) - min(sizes) <= 7  # balanced by note count, not patient count
    for fold in range(5):
        inside = {patient_of(n) for n in split(notes, [fold], folds)}
        outside = {patient_of(n) for n in split(notes, [f for f in range(5) if f != fold], folds)}
        assert inside and not inside & outside


def test_augmentation_replaces_every_gold_value_and_nothing_else():
    maker = SurrogateMaker(random.Random(3))
    copies = [augmented(NOTE, maker, copy) for copy in range(20)]
    for copy in copies:
        values = [copy.text[s.start:s.end] for s in copy.spans]
        assert [s.label for s in copy.spans] == ["NAME", "LOCATION", "DATE", "PHONE", "NAME"]
        assert copy.text.startswith("Dtr ") and " called from " in copy.text and "Seen by Dr. " in copy.text
        assert values[0].isupper() and values[1].isupper()  # the case of the value replaced
        assert "\n" not in "".join(values)
    replaced = [[c.text[s.start:s.end] for s in c.spans] for c in copies]
    originals = [NOTE.text[s.start:s.end] for s in NOTE.spans]
    for position, original in enumerate(originals):
        seen = {values[position] for values in replaced}
        assert len(seen) >= 10 and original not in seen  # random, and never the development value


def test_surrogates_keep_the_case_and_shape_of_what_they_replace():
    assert with_case_of("springfield", "CALVERT") == "SPRINGFIELD"
    assert with_case_of("Mary Ann", "healey") == "mary ann"
    assert with_case_of("van buren", "Smith") == "Van Buren"
    maker = SurrogateMaker(random.Random(0))
    assert all(len(maker.place("GH")) == 2 and maker.place("GH").isupper() for _ in range(20))
    dates = {maker.date("7/22") for _ in range(50)}
    assert sum(bool(__import__("re").fullmatch(r"\d{1,2}/\d{1,2}", d)) for d in dates) > 20


def test_synthetic_documents_annotate_every_slot_they_fill():
    generator = SyntheticNotes(random.Random(1))
    documents = [generator.document(n) for n in range(300)]
    assert all(doc.spans for doc in documents)
    for doc in documents:
        for span in doc.spans:
            value = doc.text[span.start:span.end]
            assert value.strip() == value and value and "{" not in value
    text = "\n".join(doc.text.lower() for doc in documents)
    for style in ("dictated by", "mrn:", "university", "electronically signed", "son ", "dtr "):
        assert style in text


def test_shapes_and_token_labels():
    assert shape("McKay") == "XxXx" and shape("7/22") == "d/d" and shape("617-555-0143") == "d-d-d"
    tokens = tokenize(NOTE.text)
    labels = token_labels(tokens, [(s.start, s.end, s.label) for s in NOTE.spans])
    labelled = [(t.text, label) for t, label in zip(tokens, labels) if label]
    assert labelled[:5] == [("KAREN", "RelativeProxyName"), ("CALVERT", "Location"), ("7", "Date"), ("/", "Date"),
                            ("22", "Date")]
    assert ("Healey", "HCPName") in labelled and ("Dr", None) not in labelled
    runs = spans_from_labels(tokens, [label or "O" for label in labels])
    assert [NOTE.text[s:e] for s, e, _ in runs] == ["KAREN", "CALVERT", "7/22", "410-555-0199", "Healey"]


def test_a_line_break_ends_a_tagged_run():
    tokens = tokenize("Dr. Ames\nPlan")
    assert spans_from_labels(tokens, ["O", "O", "NAME", "NAME", "NAME"]) == [(4, 8, "NAME"), (9, 13, "NAME")]


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    """A tagger trained on generated documents only: seconds, and enough to learn "Dr. X" and "son X"."""
    folder = tmp_path_factory.mktemp("gold")
    generator = SyntheticNotes(random.Random(5))
    rows = [generator.document(n) for n in range(300)]
    (folder / "notes.jsonl").write_text("".join(json.dumps({
        "id": f"{n}-1", "text": doc.text, "spans": [{"start": s.start, "end": s.end, "label": s.label} for s in doc.spans]})
        + "\n" for n, doc in enumerate(rows)))
    return train_on_gold(read_gold_dir(folder), folder / "model.crf", copies=1, synthetic=0)


def test_a_model_trained_by_medmix_tags_unseen_names(small_model):
    scrubber = PhiScrubber(ScrubberSettings(model=str(small_model), context_rules=False))
    text = "Pt calm overnight. Seen by Dr. Quenbrook on rounds. Son Tavish at bedside, updated on plan."
    found = {text[s.start:s.end] for s in scrubber.find(text)}
    assert {"Quenbrook", "Tavish"} <= found
    assert not found & {"Pt", "calm", "rounds", "bedside", "plan"}


def test_the_bundled_model_is_small_and_has_a_card():
    model = bundled_model()
    assert model.is_file() and model.stat().st_size < 8_000_000
    card = (model.parent / "MODEL_CARD.md").read_text()
    for heading in ("Training data", "Licen", "Features", "Cross-validation", "Frozen fold"):
        assert heading in card
    assert PhiTagger().labels  # it loads, and knows labels beyond O


@pytest.mark.parametrize("threshold", [0.5, 0.3, 0.15])
def test_a_lower_threshold_never_redacts_less(threshold):
    text = "Seen by Dr. Harbourne, son Eli called from Lakewood re: transfer to Quincy Regional on 3/4."
    strict = {(s.start, s.end) for s in PhiScrubber(ScrubberSettings(threshold=0.5)).find(text)}
    loose = PhiScrubber(ScrubberSettings(threshold=threshold)).find(text)
    covered = {i for s in loose for i in range(s.start, s.end)}
    assert all(i in covered for start, end in strict for i in range(start, end))


# --------------------------------------------------------------------------------- known identifiers

def write_known(tmp_path: Path) -> Path:
    path = tmp_path / "known.csv"
    path.write_text("subject_id,patient_name,mrn,home_phone,street_address\n"
                    "101,John Smith,84421907,617-555-0143,12 Elm Street\n"
                    "102,Ana Ruiz,77001234,,\n")
    return path


def test_known_identifiers_are_found_in_their_patients_notes_only(tmp_path):
    known = KnownIdentifiers.load(write_known(tmp_path), "subject_id")
    text = "JOHN called; smith's MRN 84421907, phone (617) 555 0143. Lives at 12 elm street. Johnson aware."
    found = {text[s.start:s.end]: s.label for s in known.spans(text, "101")}
    assert found == {"JOHN": "NAME", "smith": "NAME", "84421907": "ID", "(617) 555 0143": "PHONE",
                     "12 elm street": "ADDRESS"}  # not "Johnson": token boundaries
    assert known.spans(text, "102") == [] and known.spans(text, None) == []


def test_the_scrubber_uses_known_identifiers_by_patient(tmp_path):
    scrubber = PhiScrubber(known=KnownIdentifiers.load(write_known(tmp_path), "subject_id"))
    text = "pt ana c/o pain, ruiz family at bedside"
    redacted = {text[s.start:s.end] for s in scrubber.find(text, patient="102")}
    assert {"ana", "ruiz"} <= redacted


def test_a_known_identifiers_file_without_the_patient_key_names_the_problem(tmp_path):
    path = write_known(tmp_path)
    with pytest.raises(KnownIdentifiersError, match=r"known.csv: no column 'hadm_id'"):
        KnownIdentifiers.load(path, "hadm_id")
    with pytest.raises(KnownIdentifiersError, match="must be a .csv, .tsv or .parquet"):
        KnownIdentifiers.load(path.rename(tmp_path / "known.txt"), "subject_id")


# ---------------------------------------------------------------- what a newcomer's planted notes found

@pytest.fixture(scope="module")
def scrubber():
    return PhiScrubber()


def test_a_city_after_a_street_address_is_redacted(scrubber):
    text = "Pt lives at 12 Elm Street, Springfield with her husband."
    redacted = "".join(text[s.start:s.end] for s in scrubber.find(text))
    assert "Springfield" in redacted and "husband" not in redacted


@pytest.mark.parametrize("text", ["MRN: 84421907", "SSN 123-45-6789, MRN 84421907", "mrn 84421907 ssn 123456789"])
def test_record_words_are_not_names_and_ssns_are_ssns(scrubber, text):
    spans = scrubber.find(text)
    assert all("mrn" not in text[s.start:s.end].lower() for s in spans)
    for span in spans:
        digits = "".join(c for c in text[span.start:span.end] if c.isdigit())
        assert span.label == ("SSN" if digits == "123456789" else "ID")


@pytest.mark.parametrize("phone", ["617/555-0143", "(617)555-0143", "( 617 ) 555-0143", "617 555 0143", "555 0143",
                                   "617.555.0143"])
def test_phone_numbers_in_every_common_shape(scrubber, phone):
    text = f"Daughter can be reached at {phone}."
    redacted = "".join(text[s.start:s.end] for s in scrubber.find(text))
    assert all(c in redacted for c in phone if c.isdigit())


def test_scrub_takes_known_identifiers_a_model_and_a_threshold(tmp_path, small_model):
    from typer.testing import CliRunner

    from medmix.cli import app

    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text(json.dumps({"id": 1, "subject_id": 101, "text": "pt john ok, 84421907 on file"}) + "\n")
    result = CliRunner().invoke(app, ["scrub", str(source), str(target), "--known", str(write_known(tmp_path)),
                                      "--model", str(small_model), "--threshold", "0.2"])
    assert result.exit_code == 0, result.output
    scrubbed = json.loads(target.read_text())["text"]
    assert scrubbed.startswith("pt [NAME]") and scrubbed.endswith("[ID] on file")
    missing = CliRunner().invoke(app, ["scrub", str(source), str(target), "--known", str(tmp_path / "none.csv")])
    assert missing.exit_code == 2 and "known identifiers file not found" in missing.output


def test_phi_train_on_annotated_jsonl(tmp_path):
    from typer.testing import CliRunner

    from medmix.cli import app

    gold = tmp_path / "gold"
    gold.mkdir()
    generator = SyntheticNotes(random.Random(9))
    (gold / "a.jsonl").write_text("".join(json.dumps({"id": f"{n}-1", "text": d.text, "spans": [
        {"start": s.start, "end": s.end, "label": s.label} for s in d.spans]}) + "\n"
        for n, d in enumerate(generator.document(k) for k in range(60))))
    trained = CliRunner().invoke(app, ["phi-train", str(gold), str(tmp_path / "m.crf"), "--copies", "1",
                                       "--synthetic", "20", "--exclude-folds", "0"])
    assert trained.exit_code == 0, trained.output
    assert (tmp_path / "m.crf").stat().st_size > 1000 and "generated documents" in trained.output
    bad = CliRunner().invoke(app, ["phi-train", str(gold), str(tmp_path / "m.crf"), "--exclude-folds", "7"])
    assert bad.exit_code == 2 and "folds are numbered 0 to 4" in bad.output
