"""Bad input never takes down a run and never disappears: each record is kept or quarantined with a reason."""

import gzip
import json

import pytest

from medmix.corpus.readers.pmc import PmcReader
from medmix.corpus.readers.pubmed import PubmedReader
from medmix.corpus.readers.tabular import JsonlReader, Mimic3NotesReader, MIMIC3_COLUMNS


def article(pmid: int, abstract: str = "A sentence long enough to be an abstract.") -> str:
    return (f"<PubmedArticle><MedlineCitation><PMID Version=\"1\">{pmid}</PMID><Article><ArticleTitle>Title {pmid}"
            f"</ArticleTitle><Abstract><AbstractText>{abstract}</AbstractText></Abstract></Article>"
            f"</MedlineCitation></PubmedArticle>\n")


def pubmed_file(path, articles: list[str]) -> str:
    body = '<?xml version="1.0" encoding="utf-8"?>\n<PubmedArticleSet>\n' + "".join(articles) + "</PubmedArticleSet>\n"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(body)
    return str(path)


def assert_balanced(result):
    assert result.count("in") == result.count("kept") + result.count("removed")
    assert len(result.removed) == result.count("removed")  # every removal is in the quarantine
    assert all(r["reason"] for r in result.removed)


def test_one_malformed_pubmed_record_is_quarantined_and_its_neighbours_kept(tmp_path, run_step):
    broken = "<PubmedArticle><MedlineCitation><PMID>2</PMID><Article><ArticleTitle>Bad</Title>" \
             "</Article></MedlineCitation></PubmedArticle>\n"
    path = pubmed_file(tmp_path / "pubmed.xml.gz", [article(1), broken, article(3)])
    result = run_step(PubmedReader(tmp_path, "read", source="pubmed", domain="biomedical", files=[path]))
    assert [d.id for d in result.docs] == ["1", "3"]
    assert result.reasons() == {"malformed_xml": 1}
    quarantined = result.removed[0]
    assert "record 2" in quarantined["detail"] and "mismatch" in quarantined["detail"]
    assert "<ArticleTitle>Bad</Title>" in quarantined["text"]  # the raw record is kept for inspection
    assert_balanced(result)


def test_truncated_gzip_keeps_what_was_read_and_records_where_it_stopped(tmp_path, run_step):
    path = tmp_path / "pubmed.xml.gz"
    pubmed_file(path, [article(i, "x " * 400) for i in range(1, 400)])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    result = run_step(PubmedReader(tmp_path, "read", source="pubmed", domain="biomedical", files=[str(path)]))
    assert 10 < len(result.docs) < 399
    assert [d.id for d in result.docs] == [str(i) for i in range(1, len(result.docs) + 1)]
    reasons = result.reasons()
    assert reasons.pop("unreadable_file") == 1
    assert set(reasons) <= {"truncated_record"}
    unreadable = next(r for r in result.removed if r["reason"] == "unreadable_file")
    assert "EOFError" in unreadable["detail"] and str(path) in unreadable["detail"]
    assert_balanced(result)


def test_a_file_that_is_not_gzip_at_all(tmp_path, run_step):
    path = tmp_path / "pubmed.xml.gz"
    path.write_bytes(b"this is not gzip")
    good = pubmed_file(tmp_path / "good.xml.gz", [article(7)])
    result = run_step(PubmedReader(tmp_path, "read", source="pubmed", domain="biomedical", files=[str(path), good]))
    assert [d.id for d in result.docs] == ["7"]
    assert result.reasons() == {"unreadable_file": 1}


def test_invalid_utf8_empty_and_malformed_json_lines(tmp_path, run_step):
    path = tmp_path / "web.jsonl"
    path.write_bytes(b'{"id": "a", "text": "fine text"}\n'
                     b'{"id": "b", "text": "caf\xe9 au lait"}\n'
                     b'{"id": "c", "text": "   "}\n'
                     b'{"id": "d", "text": "cut off\n'
                     b'["not", "an", "object"]\n'
                     b'{"id": "e", "text": "also fine"}\n')
    result = run_step(JsonlReader(tmp_path, "read", source="web", domain="general", files=[str(path)]))
    assert [d.id for d in result.docs] == ["a", "e"]
    assert result.reasons() == {"invalid_utf8": 1, "empty_text": 1, "malformed_json": 2}
    assert_balanced(result)


def test_invalid_utf8_in_a_csv_note(tmp_path, run_step):
    path = tmp_path / "NOTEEVENTS.csv"
    header = ",".join(MIMIC3_COLUMNS).encode()
    rows = [b'1,10,100,2150-01-01,,,Nursing,Report,1,,"pt stable, ambulating"',
            b'2,10,100,2150-01-01,,,Nursing,Report,1,,"temp 38\xb0C overnight"']
    path.write_bytes(header + b"\n" + b"\n".join(rows) + b"\n")
    result = run_step(Mimic3NotesReader(tmp_path, "read", source="mimic3", domain="clinical", files=[str(path)]))
    assert [d.id for d in result.docs] == ["1"]
    assert result.reasons() == {"invalid_utf8": 1}
    assert result.removed[0]["text"] == "temp 38\ufffdC overnight"  # quarantined readably
    assert_balanced(result)


def test_a_50_mb_document_is_quarantined_without_stopping_the_run(tmp_path, run_step):
    path = tmp_path / "web.jsonl"
    with open(path, "w") as handle:
        handle.write(json.dumps({"id": "small", "text": "a normal document"}) + "\n")
        handle.write(json.dumps({"id": "huge", "text": "word " * 10_000_000}) + "\n")
        handle.write(json.dumps({"id": "after", "text": "the run goes on"}) + "\n")
    result = run_step(JsonlReader(tmp_path, "read", source="web", domain="general", files=[str(path)]))
    assert [d.id for d in result.docs] == ["small", "after"]
    assert result.reasons() == {"too_long": 1}
    assert "50000000 > max_chars 10000000" in result.removed[0]["detail"]
    assert_balanced(result)


def test_malformed_pmc_file_and_a_file_without_article(tmp_path, run_step):
    (tmp_path / "bad.nxml").write_text("<article><front><article-meta></front></article>")
    (tmp_path / "other.xml").write_text("<catalog><item/></catalog>")
    files = [str(tmp_path / "bad.nxml"), str(tmp_path / "other.xml")]
    result = run_step(PmcReader(tmp_path, "read", source="pmc", domain="biomedical", files=files))
    assert result.docs == []
    assert result.reasons() == {"malformed_xml": 1, "not_an_article": 1}


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".jsonl.zst"])
def test_compressed_jsonl(tmp_path, run_step, suffix):
    import zstandard

    data = b"".join(json.dumps({"id": str(i), "text": f"document {i}"}).encode() + b"\n" for i in range(50))
    path = tmp_path / f"part{suffix}"
    path.write_bytes(gzip.compress(data) if suffix.endswith("gz") else zstandard.ZstdCompressor().compress(data))
    result = run_step(JsonlReader(tmp_path, "read", source="web", domain="general", files=[str(path)]))
    assert [d.text for d in result.docs] == [f"document {i}" for i in range(50)]
