"""Bad input never takes down a run and never disappears: each record is kept or quarantined with a reason."""

import gzip
import json

import pytest

from medmix.corpus.readers.pmc import PmcReader
from medmix.corpus.readers.pubmed import PubmedReader
from medmix.corpus.readers.tabular import MIMIC3_COLUMNS, JsonlSourceReader, Mimic3NotesReader


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
    assert_balanced(result)


def test_invalid_utf8_empty_and_malformed_json_lines(tmp_path, run_step):
    path = tmp_path / "web.jsonl"
    path.write_bytes(b'{"id": "a", "text": "fine text"}\n'
                     b'{"id": "b", "text": "caf\xe9 au lait"}\n'
                     b'{"id": "c", "text": "   "}\n'
                     b'{"id": "d", "text": "cut off\n'
                     b'["not", "an", "object"]\n'
                     b'{"id": "e", "text": "also fine"}\n')
    result = run_step(JsonlSourceReader(tmp_path, "read", source="web", domain="general", files=[str(path)]))
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
    result = run_step(JsonlSourceReader(tmp_path, "read", source="web", domain="general", files=[str(path)]))
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
    result = run_step(JsonlSourceReader(tmp_path, "read", source="web", domain="general", files=[str(path)]))
    assert [d.text for d in result.docs] == [f"document {i}" for i in range(50)]


def test_corrupt_zip_and_truncated_parquet_cost_only_their_own_file(tmp_path, run_step):
    import zipfile

    import pyarrow as pa
    import pyarrow.parquet as pq

    from medmix.corpus.readers.mimic_cxr import MimicCxrReader
    from medmix.corpus.readers.tabular import ParquetSourceReader

    archive = tmp_path / "reports.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("files/p10/p10000001/s50000001.txt", "FINAL REPORT\n")
    archive.write_bytes(archive.read_bytes()[:40])
    good = tmp_path / "files" / "p10" / "p10000002" / "s50000002.txt"
    good.parent.mkdir(parents=True)
    good.write_text("FINAL REPORT\n IMPRESSION: clear.\n")
    result = run_step(MimicCxrReader(tmp_path / "cxr", "read", source="cxr", domain="clinical",
                                     files=[str(archive), str(good)]))
    assert [d.id for d in result.docs] == ["s50000002"] and result.reasons() == {"unreadable_file": 1}

    pq.write_table(pa.table({"id": ["a", "b"], "text": ["one", "two"]}), tmp_path / "good.parquet")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes((tmp_path / "good.parquet").read_bytes()[:-30])
    result = run_step(ParquetSourceReader(tmp_path / "pq", "read", source="rp", domain="general",
                                    files=[str(broken), str(tmp_path / "good.parquet")]))
    assert [d.id for d in result.docs] == ["a", "b"] and result.reasons() == {"unreadable_file": 1}
    assert_balanced(result)


def test_wrong_text_column_or_key_is_named(tmp_path, run_step):
    csv_path = tmp_path / "notes.csv"
    csv_path.write_text("row_id,text\n1,lower-case export\n")
    result = run_step(Mimic3NotesReader(tmp_path / "m", "read", source="mimic3", domain="clinical",
                                        files=[str(csv_path)]))
    assert result.docs == [] and result.reasons() == {"unreadable_file": 1}
    assert "no column ['TEXT', 'ROW_ID']" in result.removed[0]["detail"]

    jsonl = tmp_path / "web.jsonl"
    jsonl.write_text('{"id": 0, "content": "body"}\n{"id": 0, "text": "zero is an id"}\n')
    result = run_step(JsonlSourceReader(tmp_path / "j", "read", source="web", domain="general", files=[str(jsonl)]))
    assert [(d.id, d.text) for d in result.docs] == [("0", "zero is an id")]
    assert result.reasons() == {"missing_key:text": 1}


def test_byte_order_marks_do_not_stick_to_the_first_column_or_record(tmp_path, run_step):
    csv_path = tmp_path / "NOTEEVENTS.csv"
    csv_path.write_bytes(b"\xef\xbb\xbf" + ",".join(MIMIC3_COLUMNS).encode() + b'\n7,1,2,,,,Nursing,R,,,"stable"\n')
    result = run_step(Mimic3NotesReader(tmp_path / "m", "read", source="mimic3", domain="clinical",
                                        files=[str(csv_path)]))
    assert [d.id for d in result.docs] == ["7"]
    jsonl = tmp_path / "web.jsonl"
    jsonl.write_bytes(b'\xef\xbb\xbf{"id": "first", "text": "kept"}\n')
    result = run_step(JsonlSourceReader(tmp_path / "j", "read", source="web", domain="general", files=[str(jsonl)]))
    assert [d.id for d in result.docs] == ["first"]


def test_an_unclosed_quote_does_not_swallow_the_following_notes_silently(tmp_path, run_step):
    csv_path = tmp_path / "NOTEEVENTS.csv"
    rows = ['1,1,1,,,,Nursing,R,,,"first note"', '2,1,1,,,,Nursing,R,,,"opened and never closed',
            '3,1,1,,,,Nursing,R,,,"third note"', '4,1,1,,,,Nursing,R,,,"fourth note"']
    csv_path.write_text(",".join(MIMIC3_COLUMNS) + "\n" + "\n".join(rows) + "\n")
    result = run_step(Mimic3NotesReader(tmp_path / "m", "read", source="mimic3", domain="clinical",
                                        files=[str(csv_path)]))
    assert [d.id for d in result.docs] == ["1"]
    assert result.reasons() == {"unreadable_file": 1}
    assert "after 1 records" in result.removed[0]["detail"]


def test_gzip_truncated_within_the_first_kilobytes(tmp_path, run_step):
    path = tmp_path / "pubmed.xml.gz"
    pubmed_file(path, [article(i, f"abstract number {i} " * 3) for i in range(1, 200)])
    data = path.read_bytes()
    path.write_bytes(data[:1000])
    result = run_step(PubmedReader(tmp_path, "read", source="pubmed", domain="biomedical", files=[str(path)]))
    assert len(result.docs) > 5
    assert result.reasons() == {"unreadable_file": 1}
    assert_balanced(result)


def test_pmc_article_set_with_several_articles_and_typed_abstracts(tmp_path, run_step):
    article_xml = ('<article><front><article-meta><article-id pub-id-type="pmc">{n}</article-id><title-group>'
                   '<article-title>Article {n}</article-title></title-group>'
                   '<abstract abstract-type="graphical"><p>Graphical blurb.</p></abstract>'
                   '<abstract abstract-type="structured"><sec><title>Aim</title><p>Aim of {n}.</p></sec></abstract>'
                   '</article-meta></front><body><p>Body of {n}.</p></body></article>')
    (tmp_path / "set.xml").write_text("<pmc-articleset>" + "".join(article_xml.format(n=n) for n in (1, 2))
                                      + "</pmc-articleset>")
    result = run_step(PmcReader(tmp_path, "read", source="pmc", domain="biomedical", files=[str(tmp_path / "set.xml")]))
    assert [(d.id, d.text) for d in result.docs] == [
        ("PMC1", "Article 1\n\nAbstract\n\nAim\n\nAim of 1.\n\nBody of 1."),
        ("PMC2", "Article 2\n\nAbstract\n\nAim\n\nAim of 2.\n\nBody of 2."),
    ]


def test_comments_cdata_and_spaced_end_tags_in_pubmed_xml(tmp_path, run_step):
    records = ["<!-- <PubmedArticle><MedlineCitation><PMID>99</PMID></MedlineCitation></PubmedArticle> -->\n",
               article(1).replace("</PubmedArticle>", "</PubmedArticle >"),
               article(2, "<![CDATA[ a </PubmedArticle> inside ]]> text"),
               "<PubmedArticle><MedlineCitation><Article><ArticleTitle>No id</ArticleTitle></Article>"
               "</MedlineCitation></PubmedArticle>\n"]
    path = pubmed_file(tmp_path / "pubmed.xml.gz", records)
    result = run_step(PubmedReader(tmp_path, "read", source="pubmed", domain="biomedical", files=[path]))
    assert [d.id for d in result.docs] == ["1", "2"]
    assert "a </PubmedArticle> inside" in result.docs[1].text
    assert result.reasons() == {"missing_id": 1}
    assert_balanced(result)
