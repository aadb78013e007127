"""Synthetic inputs for the demo, written in each source's real file format.

Nothing here is real data: the text comes from templates and word lists, and every name, date and
number planted as PHI is made up. The files exercise what the real ones do: structured abstracts,
citations without abstracts, a `DeleteCitation` and a re-issued citation in an update file, JATS
sections with references, tables, figures and formulas, MIMIC `[** **]` placeholders, an `ISERROR`
row, an empty note, and a malformed JSON line.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
from pathlib import Path

from lxml import etree

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


def write_pubmed(directory: Path, rng: random.Random) -> int:
    """A baseline file, and an update file that deletes one citation and re-issues another."""
    directory.mkdir(parents=True, exist_ok=True)
    first = 31000000
    baseline = [pubmed_article(rng, first + i, with_abstract=i % 7 != 0) for i in range(120)]
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


def write_pmc(directory: Path, rng: random.Random) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    count = 24
    for i in range(count):
        pmc = 9000000 + i
        fields = {key: paragraph(rng, 5) for key in ("intro", "methods", "stats", "results", "discussion")}
        xml = JATS_TEMPLATE.format(pmid=32000000 + i, pmc=pmc, year=rng.randint(2005, 2023),
                                   title=f"{rng.choice(TREATMENTS).capitalize()} for {rng.choice(CONDITIONS)}",
                                   abstract1=paragraph(rng, 2), abstract2=paragraph(rng, 2), **fields)
        (directory / f"PMC{pmc}.nxml").write_text(xml)
    return count


# ----------------------------------------------------------------------------------------------- MIMIC


def clinical_note(rng: random.Random, placeholders: bool) -> str:
    """A terse, list-like note; MIMIC-III style keeps [** **] placeholders, and some PHI slips through."""
    name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
    if placeholders:
        header = f"Admission Date:  [**2150-3-{rng.randint(1, 28)}**]   Discharge Date:  [**2150-4-{rng.randint(1, 28)}**]"
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
        rows.append([i + 1, 10000 + i // 3, 100000 + i // 2, "2150-03-04", "2150-03-04 10:00:00", "", rng.choice(categories),
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
        path.write_text(f"                                 FINAL REPORT\n EXAMINATION:  CHEST (PA AND LAT)\n\n"
                        f" INDICATION:  ___ with {rng.choice(CONDITIONS)}\n\n IMPRESSION:\n\n {finding}\n")
    return count


# --------------------------------------------------------------------------------------------- general


def write_redpajama(directory: Path, rng: random.Random) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    count = 0
    for shard in range(2):
        lines = []
        for i in range(150):
            text = " ".join(f"{rng.choice(GENERAL_TOPICS).capitalize()} {rng.choice(GENERAL_VERBS)} "
                            f"{rng.choice(GENERAL_TOPICS)} on {rng.choice(['Monday', 'Friday', 'the weekend'])}."
                            for _ in range(rng.randint(6, 20)))
            lines.append(json.dumps({"text": text, "meta": {"url": f"https://example.org/{shard}/{i}",
                                                             "language": "en"}, "red_pajama_subset": "common_crawl"}))
            count += 1
        if shard == 1:
            lines.append('{"text": "a line cut off in the middle')  # malformed: quarantined, not lost
            count += 1
        (directory / f"en_head_{shard:04d}.jsonl").write_text("\n".join(lines) + "\n")
    return count


def write_demo_inputs(root: str | Path, seed: int = 0) -> dict[str, int]:
    """Write every demo source under `root`; returns the number of raw records per source."""
    root = Path(root)
    rng = random.Random(seed)
    return {
        "pubmed": write_pubmed(root / "pubmed", rng),
        "pmc": write_pmc(root / "pmc", rng),
        "mimic3": write_mimic3(root / "mimic3", rng),
        "mimic4": write_mimic4(root / "mimic4", rng),
        "mimic_cxr": write_mimic_cxr(root / "mimic_cxr", rng),
        "redpajama": write_redpajama(root / "redpajama", rng),
    }
