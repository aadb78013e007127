"""Synthetic inputs for the demo, written in each source's real file format.

Nothing here is real data: the text comes from templates and word lists, and every name, date and
number planted as PHI is made up. The files exercise what the real ones do: structured abstracts,
citations without abstracts, a `DeleteCitation` and a re-issued citation in an update file, JATS
sections with references, tables, figures and formulas, MIMIC `[** **]` placeholders, an `ISERROR`
row, an empty note, malformed JSON lines, and clinic notes that are not de-identified (their PHI in
the clear, as in a hospital's own records). For the cleaning stages they also plant non-English
and boilerplate web pages, exact and near-duplicates within and across sources, PubMed abstracts
whose PMC full text is present, and benchmark questions leaked into the corpus.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
from pathlib import Path

from lxml import etree

from medmix.tokenize.tokenizer import train_demo_tokenizer

CONDITIONS = ["type 2 diabetes", "heart failure", "chronic kidney disease", "community-acquired pneumonia",
              "atrial fibrillation", "sepsis", "asthma", "COPD", "hypertension", "major depressive disorder",
              "rheumatoid arthritis", "acute myocardial infarction", "stroke", "tuberculosis", "cirrhosis"]
TREATMENTS = ["metformin", "empagliflozin", "lisinopril", "apixaban", "ceftriaxone", "inhaled budesonide",
              "sertraline", "methotrexate", "atorvastatin", "furosemide", "early mobilisation",
              "a nurse-led education programme", "remote monitoring", "high-flow nasal oxygen"]
OUTCOMES = ["all-cause mortality", "hospital readmission", "length of stay", "HbA1c", "quality of life",
            "systolic blood pressure", "eGFR decline", "symptom burden", "ICU admission", "adverse events"]
DESIGNS = ["a randomised controlled trial", "a retrospective cohort study", "a prospective cohort study",
           "a cross-sectional survey", "a systematic review and meta-analysis", "a case-control study"]
POPULATIONS = ["adults over 65", "children aged 5 to 12", "outpatients in primary care", "ICU patients",
               "pregnant women", "patients after cardiac surgery", "residents of rural districts"]
GENERAL_TOPICS = ["the town council", "the new bridge", "a local bakery", "the football season", "the library",
                  "the weather this spring", "a hiking trail", "the school board", "an art exhibition",
                  "the farmers' market", "public transport", "a community garden"]
GENERAL_VERBS = ["announced", "discussed", "celebrated", "postponed", "reviewed", "expanded", "opened"]
FIRST_NAMES = ["Alice", "Bruno", "Chen", "Dalia", "Emeka", "Fatima", "Gustav", "Hana", "Ivan", "Jules"]
LAST_NAMES = ["Marlowe", "Okafor", "Lindqvist", "Ferreira", "Nakamura", "Brennan", "Haddad", "Kowalczyk"]
RELATIONS = ["Daughter", "Son", "Wife", "Husband", "Sister"]
# The surrogate key `medmix demo` uses when MEDMIX_PHI_SECRET is not set: fine for synthetic notes, and
# for nothing else (a real key is long, random, and kept out of every file).
DEMO_PHI_SECRET = "medmix-demo-only-surrogate-key"


def sentence(rng: random.Random) -> str:
    templates = [
        "We assessed whether {t} changes {o} in {p} with {c}.",
        "In {d} of {p}, {t} was associated with lower {o}.",
        "{c} remains a leading cause of {o} among {p}.",
        "The effect of {t} on {o} did not differ by age or sex.",
        "Compared with usual care, {t} improved {o} in {p} with {c}.",
        "Adherence to {t} was the strongest predictor of {o}.",
    ]
    text = rng.choice(templates).format(t=rng.choice(TREATMENTS), o=rng.choice(OUTCOMES),
                                        p=rng.choice(POPULATIONS), c=rng.choice(CONDITIONS), d=rng.choice(DESIGNS))
    return text[0].upper() + text[1:]


def paragraph(rng: random.Random, sentences: int) -> str:
    return " ".join(sentence(rng) for _ in range(sentences))


# ---------------------------------------------------------------------------------------------- PubMed


def pubmed_article(rng: random.Random, pmid: int, with_abstract: bool) -> etree._Element:
    article_el = etree.Element("PubmedArticle")
    citation = etree.SubElement(article_el, "MedlineCitation", Status="MEDLINE", Owner="NLM")
    etree.SubElement(citation, "PMID", Version="1").text = str(pmid)
    article = etree.SubElement(citation, "Article", PubModel="Print")
    journal = etree.SubElement(article, "Journal")
    issue = etree.SubElement(journal, "JournalIssue", CitedMedium="Print")
    etree.SubElement(etree.SubElement(issue, "PubDate"), "Year").text = str(rng.randint(1995, 2023))
    etree.SubElement(journal, "Title").text = "Journal of Synthetic Medicine"
    condition, treatment = rng.choice(CONDITIONS), rng.choice(TREATMENTS)
    etree.SubElement(article, "ArticleTitle").text = f"{treatment.capitalize()} in {condition}: {rng.choice(DESIGNS)}."
    if with_abstract:
        abstract = etree.SubElement(article, "Abstract")
        for label in ("BACKGROUND", "METHODS", "RESULTS", "CONCLUSIONS"):
            etree.SubElement(abstract, "AbstractText", Label=label, NlmCategory=label).text = paragraph(rng, 2)
    etree.SubElement(article, "Language").text = "eng"
    types = etree.SubElement(article, "PublicationTypeList")
    etree.SubElement(types, "PublicationType", UI="D016428").text = "Journal Article"
    return article_el


def write_pubmed(directory: Path, rng: random.Random, pmc_abstracts: dict[int, tuple[str, str]],
                 leaked: list[str]) -> int:
    """A baseline file, and an update file that deletes one citation and re-issues another.

    The baseline also holds the PubMed records of some PMC articles (same PMID, same abstract), and
    abstracts that quote benchmark questions.
    """
    directory.mkdir(parents=True, exist_ok=True)
    first = 31000000
    baseline = [pubmed_article(rng, first + i, with_abstract=i % 7 != 0) for i in range(120)]
    for pmid, (title, abstract) in pmc_abstracts.items():
        record = pubmed_article(rng, pmid, with_abstract=True)
        record.find(".//ArticleTitle").text = title
        texts = record.findall(".//AbstractText")
        texts[0].text = abstract
        texts[0].attrib.clear()  # unlabelled, exactly as the abstract the web copy below repeats
        for extra in texts[1:]:
            extra.getparent().remove(extra)
        baseline.append(record)
    for number, question in enumerate(leaked):
        record = pubmed_article(rng, first + 500 + number, with_abstract=True)
        record.find(".//AbstractText").text = f"We revisit a board question: {question}"
        baseline.append(record)
    update = [pubmed_article(rng, first + 120 + i, with_abstract=True) for i in range(40)]
    update.append(pubmed_article(rng, first + 1, with_abstract=True))  # a revised version of a baseline citation
    deletion = etree.Element("DeleteCitation")
    etree.SubElement(deletion, "PMID", Version="1").text = str(first + 2)
    update.append(deletion)
    for name, records in (("pubmed24n0001.xml.gz", baseline), ("pubmed24n1220.xml.gz", update)):
        root = etree.Element("PubmedArticleSet")
        root.extend(records)
        body = etree.tostring(root, encoding="utf-8", xml_declaration=True, pretty_print=True)
        with gzip.GzipFile(directory / name, "wb", mtime=0) as handle:
            handle.write(body)
    return len(baseline) + len(update) - 1


# ------------------------------------------------------------------------------------------------- PMC

JATS_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE article PUBLIC "-//NLM//DTD JATS (Z39.96) Journal Archiving and Interchange DTD v1.0 20120330//EN" "JATS-archivearticle1.dtd">
<article xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:mml="http://www.w3.org/1998/Math/MathML" article-type="research-article">
<front><journal-meta><journal-title-group><journal-title>Synthetic Medicine Open</journal-title></journal-title-group></journal-meta>
<article-meta><article-id pub-id-type="pmid">{pmid}</article-id><article-id pub-id-type="pmc">{pmc}</article-id>
<article-id pub-id-type="doi">10.0000/synth.{pmc}</article-id>
<title-group><article-title>{title}</article-title></title-group>
<pub-date pub-type="epub"><day>1</day><month>6</month><year>{year}</year></pub-date>
<abstract><sec><title>Background</title><p>{abstract1}</p></sec><sec><title>Findings</title><p>{abstract2}</p></sec></abstract>
</article-meta></front>
<body>
<sec><title>Introduction</title><p>{intro} <xref ref-type="bibr" rid="B1">[1]</xref></p></sec>
<sec><title>Methods</title><p>{methods}</p>
<disp-formula id="E1"><mml:math><mml:mi>y</mml:mi><mml:mo>=</mml:mo><mml:mi>x</mml:mi></mml:math></disp-formula>
<sec><title>Statistical analysis</title><p>{stats} <inline-formula><mml:math><mml:mi>p</mml:mi></mml:math></inline-formula></p></sec></sec>
<sec><title>Results</title><p>{results}</p>
<table-wrap id="T1"><label>Table 1</label><caption><p>Baseline characteristics</p></caption><table><tr><td>Age</td><td>64</td></tr></table></table-wrap>
<fig id="F1"><label>Figure 1</label><caption><p>Study flow diagram.</p></caption></fig></sec>
<sec><title>Discussion</title><p>{discussion}</p></sec>
</body>
<back><ref-list><ref id="B1"><mixed-citation>Doe J. An earlier synthetic study. Synth Med. 2001;1:1-9.</mixed-citation></ref></ref-list></back>
</article>
"""


def write_pmc(directory: Path, rng: random.Random) -> tuple[int, dict[int, tuple[str, str]]]:
    """PMC articles; returns the count and, for the first six, (title, abstract) by PMID for PubMed to repeat."""
    directory.mkdir(parents=True, exist_ok=True)
    count, abstracts = 24, {}
    for i in range(count):
        pmc, pmid = 9000000 + i, 32000000 + i
        fields = {key: paragraph(rng, 5) for key in ("intro", "methods", "stats", "results", "discussion")}
        title = f"{rng.choice(TREATMENTS).capitalize()} for {rng.choice(CONDITIONS)}"
        abstract1, abstract2 = paragraph(rng, 2), paragraph(rng, 2)
        xml = JATS_TEMPLATE.format(pmid=pmid, pmc=pmc, year=rng.randint(2005, 2023), title=title,
                                   abstract1=abstract1, abstract2=abstract2, **fields)
        (directory / f"PMC{pmc}.nxml").write_text(xml)
        if i < 6:
            abstracts[pmid] = (title, f"{abstract1} {abstract2}")
    return count, abstracts


# ----------------------------------------------------------------------------------------------- MIMIC


def clinical_note(rng: random.Random, placeholders: bool) -> str:
    """A terse, list-like note; MIMIC-III style keeps [** **] placeholders, and some PHI slips through."""
    name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
    if placeholders:
        header = (f"Admission Date:  [**2150-3-{rng.randint(1, 28)}**]   "
                  f"Discharge Date:  [**2150-4-{rng.randint(1, 28)}**]")
        who = f"Attending:[**First Name3 (LF) {rng.randint(100, 999)}**]"
        where = "Transferred from [**Hospital 1**]"
    else:
        header = "Admission Date:  ___   Discharge Date:  ___"
        who, where = "Attending: ___", "Transferred from ___"
    lines = [
        header, who, where,
        f"CHIEF COMPLAINT: {rng.choice(['SOB', 'CP', 'fever', 'AMS', 'fall'])}",
        f"HPI: pt with hx of {rng.choice(CONDITIONS)} and {rng.choice(CONDITIONS)}, presented with worsening "
        f"symptoms. started on {rng.choice(TREATMENTS)}.",
        f"VS: T {rng.uniform(36, 39.5):.1f} HR {rng.randint(55, 130)} BP {rng.randint(90, 170)}/{rng.randint(50, 100)} "
        f"RR {rng.randint(12, 30)} O2 {rng.randint(88, 100)}% RA",
        "NEURO: A+Ox3, MAE. CV: RRR, no m/r/g. RESP: CTA bilat, dim bases.",
        f"PLAN: cont {rng.choice(TREATMENTS)}, f/u labs in AM, PT consult.",
    ]
    if rng.random() < 0.3:  # residual PHI that the PHI stage must catch
        lines.append(f"Daughter {name} called, can be reached at 617-555-{rng.randint(1000, 9999)}.")
    return "\n".join(lines) + "\n"


def write_csv_gz(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    with gzip.GzipFile(path, "wb", mtime=0) as handle:
        handle.write(buffer.getvalue().encode("utf-8"))


def write_mimic3(directory: Path, rng: random.Random) -> int:
    from medmix.corpus.readers.tabular import MIMIC3_COLUMNS

    categories = ["Nursing/other", "Nursing", "Physician ", "Discharge summary", "Radiology"]
    rows = []
    for i in range(300):
        text = clinical_note(rng, placeholders=True)
        is_error = "1" if i == 17 else ""
        if i == 42:
            text = ""
        rows.append([i + 1, 10000 + i // 3, 100000 + i // 2, "2150-03-04", "2150-03-04 10:00:00", "",
                     rng.choice(categories),
                     "Report", 14000 + i % 50, is_error, text])
    write_csv_gz(directory / "NOTEEVENTS.csv.gz", MIMIC3_COLUMNS, rows)
    return len(rows)


def write_mimic4(directory: Path, rng: random.Random) -> int:
    from medmix.corpus.readers.tabular import MIMIC4_COLUMNS

    rows = [[f"{10000032 + i}-DS-{i % 30 + 1}", 10000032 + i, 20000000 + i, "DS", i % 30 + 1,
             "2180-05-07 00:00:00", "2180-05-09 15:26:00", clinical_note(rng, placeholders=False)] for i in range(120)]
    write_csv_gz(directory / "discharge.csv.gz", MIMIC4_COLUMNS, rows)
    return len(rows)


def write_mimic_cxr(directory: Path, rng: random.Random) -> int:
    count = 40
    for i in range(count):
        subject = 10000032 + i
        path = directory / "files" / f"p{str(subject)[:2]}" / f"p{subject}" / f"s{50000000 + i}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        finding = rng.choice(["No acute cardiopulmonary process.", "Small left pleural effusion.",
                              "Mild pulmonary edema.", "Right lower lobe opacity concerning for pneumonia."])
        comparison = rng.choice(["None.", f"Chest radiograph from {rng.randint(2, 30)} days earlier.",
                                 "Prior study of ___."])
        path.write_text(f"                                 FINAL REPORT\n EXAMINATION:  CHEST (PA AND LAT)\n\n"
                        f" INDICATION:  ___ year old with {rng.choice(CONDITIONS)}, {rng.choice(OUTCOMES)}\n\n"
                        f" COMPARISON:  {comparison}\n\n FINDINGS:  Heart size is "
                        f"{rng.choice(['normal', 'mildly enlarged'])}. "
                        f"{rng.choice(['No pneumothorax.', 'Lines unchanged.', 'Osseous structures intact.'])}"
                        f"\n\n IMPRESSION:\n\n {finding}\n")
    return count


def clinic_note(rng: random.Random) -> str:
    """An outpatient note as a hospital's own system holds it: not de-identified, so names, dates, a phone
    number and the record number are in the clear. The build scrubs it as it reads it."""
    treatment = rng.choice(TREATMENTS)
    relative = f"{rng.choice(RELATIONS)} {rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
    return "\n".join([
        f"Clinic visit {rng.randint(1, 12)}/{rng.randint(1, 28)}/2021. MRN {rng.randint(10_000_000, 99_999_999)}.",
        f"Seen by Dr. {rng.choice(LAST_NAMES)} for follow-up of {rng.choice(CONDITIONS)}.",
        f"Pt reports {rng.choice(['fewer symptoms', 'better sleep', 'more energy', 'no change'])} on {treatment}.",
        f"BP {rng.randint(100, 160)}/{rng.randint(60, 95)}, HR {rng.randint(55, 100)}.",
        f"{relative} can be reached at 617-555-{rng.randint(1000, 9999)}.",
        f"Plan: continue {treatment}, labs in {rng.randint(2, 12)} weeks.",
    ]) + "\n"


def write_clinic(directory: Path, rng: random.Random) -> int:
    """Clinic notes as JSON lines, with the patient for surrogate date shifts, and one line cut off."""
    directory.mkdir(parents=True, exist_ok=True)
    rows = [json.dumps({"id": f"visit-{i}", "subject_id": f"patient-{i // 2}", "text": clinic_note(rng)})
            for i in range(60)]
    # malformed: quarantined, and scrubbed there too
    cut = json.dumps({"id": "visit-cut", "text": clinic_note(rng)})[:150]
    (directory / "notes.jsonl").write_text("\n".join(rows) + "\n" + cut + "\n")
    return len(rows) + 1


# --------------------------------------------------------------------------------------------- general


FOREIGN = {
    "fr": "Le conseil municipal a discuté du nouveau pont et de la bibliothèque pendant la réunion de lundi. "
          "Les habitants ont demandé plus de transports publics et un marché le samedi matin.",
    "de": "Der Gemeinderat hat am Montag über die neue Brücke und die Bibliothek gesprochen. Die Bewohner "
          "wünschen sich mehr öffentliche Verkehrsmittel und einen Markt am Samstagvormittag.",
    "es": "El ayuntamiento habló el lunes sobre el nuevo puente y la biblioteca. Los vecinos pidieron más "
          "transporte público y un mercado los sábados por la mañana.",
}


WEB_TEMPLATES = [
    "{S} visited {T} {E}.",
    "Last {D} we finally saw {T}, which turned out to be {A}.",
    "Nobody expected {T} to draw such a crowd.",
    "According to {S}, {T} will stay open until late October.",
    "Tickets cost less than a sandwich, so bring the whole family.",
    "Parking near {T} is limited; cycling is the easiest option.",
    "Photos from {D} show how much {T} has changed since spring.",
    "If you have questions, write to the organisers or ask {S}.",
    "A short video of {T} is available on our page.",
    "Some visitors complained about the noise, but most were {A}.",
    "Next month there will be a second event about {T}.",
    "Thanks to everyone who helped {E}!",
]
WEB_FILLERS = {
    "S": ["our neighbour", "the mayor", "a local teacher", "my grandmother", "the coach", "a reporter", "two students"],
    "T": GENERAL_TOPICS,
    "E": ["before the rain started", "with a few friends", "after lunch", "as part of a school project"],
    "D": ["Monday", "Friday", "weekend", "summer"],
    "A": ["wonderful", "a little strange", "worth the trip", "delighted"],
}


def web_page(rng: random.Random, sentences: int | None = None) -> str:
    """A short general-domain page; each template at most once, so a page does not repeat itself."""
    templates = rng.sample(WEB_TEMPLATES, sentences or rng.randint(6, 10))
    text = " ".join(templates)
    for slot, options in WEB_FILLERS.items():
        while "{" + slot + "}" in text:
            text = text.replace("{" + slot + "}", rng.choice(options), 1)
    return text[0].upper() + text[1:]


def near_copy(rng: random.Random, text: str, edits: int) -> str:
    """The same page with a few words replaced: a near-duplicate well above the 0.8 Jaccard threshold."""
    tokens = text.split()
    for _ in range(edits):
        tokens[rng.randrange(len(tokens))] = rng.choice(["indeed", "also", "again", "finally"])
    return " ".join(tokens)


def write_redpajama(directory: Path, rng: random.Random, leaked: list[str], pubmed_copy: str) -> int:
    """Web pages, with planted exact and near-duplicates, foreign-language and boilerplate pages, a leaked
    benchmark question, a copy of a PubMed abstract, and one malformed line."""
    directory.mkdir(parents=True, exist_ok=True)
    pages = [web_page(rng, sentences=12) for _ in range(20)]  # long enough for a clear near-copy
    pages += [web_page(rng) for _ in range(280)]
    pages += [pages[i] for i in range(0, 20, 2)]  # exact duplicates
    pages += [near_copy(rng, pages[i], edits=1) for i in range(1, 20, 2)]  # near-duplicates (Jaccard about 0.95)
    pages += [FOREIGN[lang] * 3 for lang in sorted(FOREIGN)]
    pages += ["Click here to subscribe to our newsletter!\n" * 40, "Home | About | Contact | Login\n" * 30]
    pages += [f"Study tip of the day. {question} Think about it before you look at the answer. {web_page(rng)}"
              for question in leaked]
    pages.append(pubmed_copy)
    rng.shuffle(pages)
    rows = [json.dumps({"text": text, "meta": {"url": f"https://example.org/{i}", "language": "en"},
                        "red_pajama_subset": "common_crawl"}) for i, text in enumerate(pages)]
    half = len(rows) // 2
    (directory / "en_head_0000.jsonl").write_text("\n".join(rows[:half]) + "\n")
    # malformed: quarantined, not lost
    (directory / "en_head_0001.jsonl").write_text("\n".join(rows[half:]) + '\n{"text": "a line cut off in the middle\n')
    return len(rows) + 1


# ------------------------------------------------------------------------------------------- benchmarks


def write_benchmark(path: Path, rng: random.Random) -> list[str]:
    """A small MedQA-format test set; returns the questions that the corpus will leak."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(30):
        condition, treatment = rng.choice(CONDITIONS), rng.choice(TREATMENTS)
        question = (f"A {rng.randint(25, 85)}-year-old patient with {condition} presents with {rng.choice(OUTCOMES)} "
                    f"concerns after starting {treatment}; which of the following is the most appropriate next "
                    f"step in management of this patient number {i}?")
        options = {letter: rng.choice(TREATMENTS) for letter in "ABCD"}
        gold = "ABCD"[i % 4]  # every letter in turn: a model that always answers "A" scores 0.25, not 1.0
        rows.append({"realidx": i, "question": question, "options": options, "answer_idx": gold,
                     "answer": options[gold]})
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return [rows[3]["question"], rows[17]["question"]]


def write_demo_inputs(root: str | Path, seed: int = 0) -> dict[str, int]:
    """Write every demo source under `root`; returns the number of raw records per source."""
    root = Path(root)
    rng = random.Random(seed)
    leaked = write_benchmark(root / "benchmarks" / "demo_medqa_test.jsonl", rng)
    pmc_count, pmc_abstracts = write_pmc(root / "pmc", rng)
    title, abstract = next(iter(pmc_abstracts.values()))
    tokenizer_rng = random.Random(seed + 1)  # its own stream: adding the tokenizer changes no other input
    corpus = ([paragraph(tokenizer_rng, 6) for _ in range(300)] + [web_page(tokenizer_rng) for _ in range(300)]
              + [clinical_note(tokenizer_rng, placeholders=True) for _ in range(300)] + list(FOREIGN.values()))
    train_demo_tokenizer(corpus, root / "tokenizer.model")
    return {
        "pmc": pmc_count,
        "pubmed": write_pubmed(root / "pubmed", rng, pmc_abstracts, leaked[:1]),
        "mimic3": write_mimic3(root / "mimic3", rng),
        "mimic4": write_mimic4(root / "mimic4", rng),
        "mimic_cxr": write_mimic_cxr(root / "mimic_cxr", rng),
        "redpajama": write_redpajama(root / "redpajama", rng, leaked[1:], f"{title}\n\n{abstract}"),
        "clinic": write_clinic(root / "clinic", rng),
    }
