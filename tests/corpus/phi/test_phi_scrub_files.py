"""`medmix scrub` reads compressed JSON lines as the readers do, writes gzip when asked, and gives line numbers."""

import gzip
import json

import zstandard
from typer.testing import CliRunner

from medmix.cli import app

NOTE = "Pt seen by Dr. Okafor on 3/14. Daughter Ingrid Halvorsen called from 617-555-0143."
LINES = [json.dumps({"id": "a", "text": NOTE}), '{"id": "b", "text": "Dr. Okaf', "",
         json.dumps({"id": "c", "body": NOTE}), json.dumps({"id": "d", "text": "CHF stable."})]


def scrub(source, target, *options):
    return CliRunner().invoke(app, ["scrub", str(source), str(target), *options])


def test_scrub_reads_gzip_and_zstd_and_writes_what_the_output_name_says(tmp_path):
    data = ("\n".join(LINES) + "\n").encode()
    gz, zst = tmp_path / "in.jsonl.gz", tmp_path / "in.jsonl.zst"
    gz.write_bytes(gzip.compress(data))
    zst.write_bytes(zstandard.ZstdCompressor().compress(data))

    first = scrub(gz, tmp_path / "out.jsonl.gz")
    second = scrub(zst, tmp_path / "out.jsonl")
    third = scrub(gz, tmp_path / "out.jsonl.zst")
    assert first.exit_code == second.exit_code == third.exit_code == 1  # the two bad lines
    from_gzip = gzip.decompress((tmp_path / "out.jsonl.gz").read_bytes()).decode()
    assert from_gzip == (tmp_path / "out.jsonl").read_text()
    with zstandard.ZstdDecompressor().stream_reader(open(tmp_path / "out.jsonl.zst", "rb")) as zstd:
        assert zstd.read().decode() == from_gzip
    out = [json.loads(line) for line in from_gzip.splitlines()]
    assert [r["id"] for r in out] == ["a", None, "c", "d"]  # the blank line 3 has no record
    assert out[0]["text"] == "Pt seen by Dr. [NAME] on [DATE]. Daughter [NAME] called from [PHONE]."
    # errors name the problem and the input line, never its content
    assert [(r.get("error"), r.get("line")) for r in out] == [
        (None, None), ("not valid JSON", 2), ("no string field 'text'", 4), (None, None)]
    for result in (first, second):
        assert "line 2 (not valid JSON), line 4 (no string field 'text')" in " ".join(result.output.split())
        assert "Okaf" not in result.output and "617-555" not in result.output


def test_scrub_with_surrogates_reads_its_secret_from_the_environment(tmp_path, monkeypatch):
    source = tmp_path / "in.jsonl"
    source.write_text(LINES[0] + "\n")
    monkeypatch.delenv("MEDMIX_PHI_SECRET", raising=False)
    missing = scrub(source, tmp_path / "out.jsonl", "--surrogates")
    assert missing.exit_code == 2 and "MEDMIX_PHI_SECRET is not set" in missing.output
    monkeypatch.setenv("MEDMIX_PHI_SECRET", "a test key")
    result = scrub(source, tmp_path / "out.jsonl", "--surrogates")
    assert result.exit_code == 0, result.output
    text = json.loads((tmp_path / "out.jsonl").read_text())["text"]
    assert "Okafor" not in text and "Halvorsen" not in text and "[PHONE]" in text and "[NAME]" not in text
