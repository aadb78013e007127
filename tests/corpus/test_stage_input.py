"""StageInput, the reader of the previous stage's kept documents: datatrove's JsonlReader's Documents, read faster."""

import gzip

import orjson
from datatrove.pipeline.readers import JsonlReader

from medmix.corpus.stages.base import StageInput

RECORDS = [
    {"id": "a", "text": "first document", "metadata": {"source": "pmc", "domain": "biomedical"}},
    {"id": "b", "text": "ünïcödé — 中文 😀 and a literal \\n", "source": "mimic3", "pmid": "123"},
    {"text": "no id: datatrove names it by file and line"},
    {"id": "empty", "text": ""},  # skipped: no text
    {"id": "c", "text": "x" * 5000, "metadata": '{"as": "a string"}'},
    {"id": "d", "text": "after a bad line and a blank one", "media": []},
]


def write_input(folder, lines: list[bytes], name="00000.jsonl.gz") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with gzip.open(folder / name, "wb") as handle:
        handle.write(b"\n".join(lines))


def read_both(folder, pattern="*.jsonl.gz", **options):
    kwargs = dict(glob_pattern=pattern, **options)
    return (list(JsonlReader(str(folder), **kwargs).run(None, 0, 1)),
            list(StageInput(str(folder), **kwargs).run(None, 0, 1)))


def test_the_same_documents_as_jsonl_reader_across_blocks_bad_lines_and_a_last_line_without_newline(
        tmp_path, monkeypatch):
    lines = [orjson.dumps(r) for r in RECORDS[:5]] + [b"{not json", b""] + [orjson.dumps(RECORDS[5])]
    write_input(tmp_path / "in", lines * 30)  # no newline after the last line
    monkeypatch.setattr(StageInput, "BLOCK", 1000)  # lines straddle blocks, some longer than a block
    expected, found = read_both(tmp_path / "in")
    assert found == expected and len(found) == 30 * 5
    assert found[2].id.endswith("00000.jsonl.gz/2")  # line numbers count every line, as datatrove's do
    for options in ({"limit": 7}, {"skip": 3}, {"add_file_path": True}, {"default_metadata": {"stage": "x"}}):
        expected, found = read_both(tmp_path / "in", **options)
        assert found == expected, options


def test_plain_and_zstd_files_are_read_as_datatrove_opens_them(tmp_path):
    import zstandard

    lines = b"\n".join(orjson.dumps(r) for r in RECORDS) + b"\n"
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "00000.jsonl").write_bytes(lines)
    (tmp_path / "zstd").mkdir()
    (tmp_path / "zstd" / "00000.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(lines))
    for folder, pattern in (("plain", "*.jsonl"), ("zstd", "*.jsonl.zst")):
        expected, found = read_both(tmp_path / folder, pattern)
        assert found == expected and len(found) == 5, folder


def test_a_stage_that_kept_nothing_is_an_empty_input(tmp_path):
    (tmp_path / "kept").mkdir()
    assert list(StageInput(str(tmp_path / "kept"), glob_pattern="*.jsonl.gz").run(None, 0, 2)) == []
