"""Cleaning stages on realistic and real text: normalization, language and quality filters, decontamination."""

import json
import random
import zipfile

import pytest
from datatrove.data import Document

from medmix.benchmarks import BenchmarkSet
from medmix.corpus.demo_data import web_page
from medmix.corpus.phi.gold import read_physionet_notes
from medmix.corpus.readers.pubmed import PubmedReader
from medmix.corpus.stages.decontaminate import Decontaminate
from medmix.corpus.stages.language_filter import LanguageFilter, LanguageFilterStage
from medmix.corpus.stages.normalize import Normalizer, placeholder_tag
from medmix.corpus.stages.quality_filter import DEFAULT_QUALITY_PROFILES, QualityFilter


def doc(text: str, domain: str, doc_id: str = "d") -> Document:
    return Document(text=text, id=doc_id, metadata={"source": domain, "domain": domain})


def normalized(text: str, domain: str, **metadata) -> str:
    document = doc(text, domain)
    document.metadata.update(metadata)
    return Normalizer("/nonexistent", "normalize").process(document).text


def test_whitespace_controls_and_unicode_everywhere():
    raw = "Cafe\u0301\x00  au\t\tlait \r\n\r\n\r\n\r\nnext\u200b line  \n  end"
    assert normalized(raw, "general") == "Café au lait\n\nnext line\nend"


def test_literature_citations_entities_and_hyphenation():
    raw = ("Statins lower LDL [12] and events [3–5, 9]. Two trials (12, 13) agree &amp; the effect is "
           "dose-dependent &#x2013; see (2) below. The treat-\nment was well tolerated [1,2].")
    assert normalized(raw, "biomedical") == (
        "Statins lower LDL and events. Two trials agree & the effect is dose-dependent \u2013 see (2) below. "
        "The treatment was well tolerated.")
    # the same clean-ups never touch clinical or web text
    assert "[12]" in normalized("Dose [12] mg", "general")


@pytest.mark.parametrize("text", [
    "inv(3)/t(3;3) positive AML with t(9;22)(q34;q11)", "patients aged (18-65) were enrolled",
    "Beta-(1,3)-glucan and [1,2,4]triazolo[4,3-a]pyridine", "two criteria (see 2) were met",
])
def test_chemistry_genetics_and_prose_in_brackets_survive(text):
    assert normalized(text, "biomedical") == text


@pytest.mark.parametrize("label, tag", [
    ("First Name (Titles) 123", "[NAME]"), ("Known lastname 2360", "[NAME]"), ("Name (NI) 1234", "[NAME]"),
    ("2150-3-2", "[DATE]"), ("3-2", "[DATE]"), ("Month (only) 51", "[DATE]"), ("Year (4 digits) 1", "[DATE]"),
    ("Hospital 1", "[HOSPITAL]"), ("Hospital Ward Name 23", "[HOSPITAL]"), ("Location (un) 2000", "[LOCATION]"),
    ("Telephone/Fax (1) 1234", "[PHONE]"), ("Pager number 325", "[PHONE]"), ("E-mail address 12", "[EMAIL]"),
    ("Medical Record Number 3122", "[ID]"), ("Social Security Number 11", "[SSN]"), ("Age over 90 31", "[AGE]"),
    ("Street Address(1) 72", "[ADDRESS]"), ("Company 12", "[ORGANIZATION]"), ("", "[REDACTED]"), (" ", "[REDACTED]"),
    ("Location (un) 13 12", "[LOCATION]"), ("Numeric Identifier 4-2", "[ID]"),
])
def test_mimic_placeholder_mapping(label, tag):
    assert placeholder_tag(label) == tag


def test_clinical_placeholders_become_typed_tags():
    note = ("Admission Date:  [**2150-3-2**]\nSeen by Dr. [**First Name (Titles) 123**] [**Last Name (Titles) 9**] "
            "at [**Hospital 1**]; call [**Telephone/Fax (1) 55**] [** **].")
    assert normalized(note, "clinical") == (
        "Admission Date: [DATE]\nSeen by Dr. [NAME] [NAME] at [HOSPITAL]; call [PHONE] [REDACTED].")
    # MIMIC-IV and MIMIC-CXR mark PHI with ___; elsewhere ___ is a form blank and stays
    assert normalized("Name:  ___   Unit No:   ___", "clinical", phi_placeholder="___") == (
        "Name: [REDACTED] Unit No: [REDACTED]")
    assert normalized("the bladder was _______ free of tumor", "clinical") == "the bladder was _______ free of tumor"


def test_language_filter_on_the_universal_declaration_in_387_languages(shared, tmp_path, run_step):
    archive = zipfile.ZipFile(shared / "general" / "udhr2.zip")
    docs = [doc(archive.read(name).decode("utf-8", "replace"), "general", name)
            for name in archive.namelist() if name.endswith(".txt")]
    docs = [d for d in docs if d.text.strip()]
    step = LanguageFilter(tmp_path, "language_filter", LanguageFilterStage(kind="language_filter").thresholds, ["en"])
    result = run_step(step, iter(docs))
    kept = {d.id for d in result.docs}
    assert "udhr2/eng.txt" in kept
    assert kept <= {"udhr2/eng.txt", "udhr2/sco.txt", "udhr2/pcm.txt"}  # Scots and Nigerian Pidgin pass as English
    assert result.count("removed") >= len(docs) - 3
    assert result.docs[0].metadata["language"] == "en"


def physionet_notes(shared):
    notes = read_physionet_notes(shared / "phi" / "physionet_deid_dev" / "id.text")
    return [doc(body, "clinical", key) for key, body in notes.items()]


@pytest.mark.slow
def test_real_all_caps_nursing_notes_survive_language_and_quality_filters(shared, tmp_path, run_step):
    notes = physionet_notes(shared)
    assert len(notes) == 1493
    thresholds = LanguageFilterStage(kind="language_filter").thresholds
    language = run_step(LanguageFilter(tmp_path / "l", "language_filter", thresholds, ["en"]), iter(notes))
    quality = run_step(QualityFilter(tmp_path / "q", "quality_filter", DEFAULT_QUALITY_PROFILES), iter(language.docs))
    assert len(quality.docs) / len(notes) >= 0.99
    # the web profile, by contrast, would throw most of them away
    web = run_step(QualityFilter(tmp_path / "w", "quality_filter", {"clinical": DEFAULT_QUALITY_PROFILES["general"]}),
                   iter(language.docs))
    assert len(web.docs) / len(notes) < 0.5


def test_quality_filter_drops_boilerplate_and_names_the_rule(tmp_path, run_step):
    boilerplate = doc("Click here to subscribe to our newsletter!\n" * 40, "general", "spam")
    article = doc(web_page(random.Random(0), sentences=12), "general", "ok")
    result = run_step(QualityFilter(tmp_path, "quality_filter", DEFAULT_QUALITY_PROFILES), iter([boilerplate, article]))
    assert [d.id for d in result.docs] == ["ok"]
    assert next(iter(result.reasons())).startswith("gopher_")


def pubmedqa_benchmark(shared) -> BenchmarkSet:
    return BenchmarkSet(name="pubmedqa", format="pubmedqa", path=str(shared / "benchmarks" / "ori_pqal.json"))


def test_pubmedqa_contexts_mixed_into_pubmed_are_all_caught_and_unrelated_abstracts_are_not(shared, tmp_path, run_step):
    abstracts = run_step(PubmedReader(tmp_path / "read", "read", source="pubmed", domain="biomedical",
                                      files=[str(shared / "pubmed" / "pubmedsample18n0001.xml.gz")])).docs
    items = json.loads((shared / "benchmarks" / "ori_pqal.json").read_text())
    leaked = [doc(" ".join(item["CONTEXTS"]), "biomedical", f"leak-{pmid}") for pmid, item in list(items.items())[:200]]
    step = Decontaminate(tmp_path / "decon", "decontaminate", [pubmedqa_benchmark(shared)])
    result = run_step(step, iter(abstracts + leaked))
    removed = {r["id"]: r for r in result.removed}
    assert set(removed) == {d.id for d in leaked}  # every planted context, and not one real abstract
    first = removed[leaked[0].id]
    assert first["reason"] == "benchmark:pubmedqa" and first["detail"].startswith(f"item {leaked[0].id[5:]}:")


def benchmark(shared, name: str, file: str) -> BenchmarkSet:
    return BenchmarkSet(name=name, format="mcq_jsonl", path=str(shared / "benchmarks" / file))


def substituted(text: str, every: int, seed: int) -> str:
    """One word in `every` replaced by another."""
    rng = random.Random(seed)
    tokens = text.split()
    for index in range(rng.randrange(every), len(tokens), every):
        tokens[index] = rng.choice(["several", "perhaps", "notably", "currently"])
    return " ".join(tokens)


def test_edited_and_reformatted_benchmark_questions_are_caught(shared, tmp_path, run_step):
    medqa = benchmark(shared, "medqa", "medqa_usmle_test.jsonl")
    medmcqa = benchmark(shared, "medmcqa", "medmcqa_dev.jsonl")
    rows = [json.loads(line) for line in open(medqa.path)][:60]
    edited = [doc(f"Practice question of the week. {substituted(row['question'], 10, i)} Answer below.",
                  "general", f"edited-{i}") for i, row in enumerate(rows)]
    short = [row for row in map(json.loads, open(medmcqa.path)) if 8 <= len(row["question"].split()) < 13][:40]
    quizzes = [doc(f"Quiz: {row['question']} A) {row['options']['A']} B) {row['options']['B']} "
                   f"C) {row['options']['C']} D) {row['options']['D']}", "general", f"quiz-{i}")
               for i, row in enumerate(short)]
    step = Decontaminate(tmp_path, "decontaminate", [medqa, medmcqa], action="flag")
    result = run_step(step, iter(edited + quizzes))
    flagged = {d.id for d in result.docs if "contamination" in d.metadata}
    assert len(flagged & {d.id for d in edited}) >= 57  # 95% of questions with one word in ten replaced
    assert len(flagged & {d.id for d in quizzes}) >= 38  # 95% of short questions reprinted as quizzes
    assert result.count("removed") == 0


def test_boilerplate_shared_by_many_questions_is_not_contamination(shared, tmp_path, run_step):
    teaching = [
        "A 34-year-old man comes to clinic with a week of fatigue and joint pain after a camping trip. "
        "Which of the following is the most likely cause of this patient's symptoms? We discuss tick-borne "
        "illness and how to take a travel history.",
        "Which of the following is the most appropriate next step in management? Residents practise answering "
        "board-style questions about a patient with chest pain and a normal electrocardiogram.",
    ]
    step = Decontaminate(tmp_path, "decontaminate", [benchmark(shared, "medqa", "medqa_usmle_test.jsonl")])
    result = run_step(step, iter([doc(text, "general", f"t{i}") for i, text in enumerate(teaching)]))
    assert result.count("removed") == 0, result.removed


def test_normalizing_real_pmc_full_texts_strips_citation_markers_and_keeps_the_prose(shared, tmp_path, run_step):
    import glob
    import re

    from medmix.corpus.readers.pmc import PmcReader

    files = sorted(glob.glob(str(shared / "pmc" / "*.nxml")))
    articles = list(PmcReader(tmp_path / "r", "read", source="pmc", domain="biomedical", files=files).run(None, 0, 1))
    marker = re.compile(r"\[\d{1,3}(?:[,\u2013-]\s*\d{1,3})*\]")
    assert sum(len(marker.findall(a.text)) for a in articles) > 100  # the raw texts are full of [12]-style markers
    result = run_step(Normalizer(tmp_path / "n", "normalize"), iter(articles))
    assert len(result.docs) == 8
    assert sum(len(marker.findall(d.text)) for d in result.docs) == 0
    lipases = next(d.text for d in result.docs if d.id == "PMC3460867")
    assert "remains one of the most threatening and deadly disease in the world" in lipases
    # characters taken away by editing are in the books: in = kept + edited away
    total = {o: sum(r["chars"] for r in result.ledger if r["outcome"] == o) for o in ("in", "kept", "edited")}
    assert total["edited"] > 0 and total["in"] == total["kept"] + total["edited"]
