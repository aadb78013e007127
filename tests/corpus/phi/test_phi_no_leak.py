"""No PHI and no secret in a run directory.

Canary values of every kind (names after titles and relation words, dates, phone, SSN, MRN, e-mail,
street address, city, age over 89, URL) are planted into clinical sources that are not de-identified:
into good records, and into records that the build quarantines (a malformed line, a missing text key,
a wrong number of CSV fields, an excluded category, a record over `max_chars`, a note too short after
reading, an exact duplicate). Full builds run with tags and with surrogates, the second one killed
mid-stage and resumed. Then every file under the run directory, logs included, is read (decompressed,
parquet stringified, everything else as bytes) and searched, case-insensitively, for every canary and
for the secret. The canaries are values that the scrubber reliably finds in these sentences.
"""

from __future__ import annotations

import csv
import gzip
import json
import random
import signal
import subprocess
import sys
import zlib
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
import zstandard

from medmix.corpus.build import BuildError, build
from medmix.corpus.demo_data import clinical_note, web_page
from medmix.corpus.ledger import check_accounts, read_ledger
from medmix.corpus.phi.replace import SecretError, Surrogates, secret_fingerprint
from medmix.corpus.recipe import RecipeError, load_recipe, parse_recipe
from medmix.corpus.stages.phi import PhiSettings, PhiStage, task_redactor
from medmix.tokenize.tokenizer import train_demo_tokenizer

SECRET_ENV = "MEDMIX_TEST_PHI_SECRET"
SECRET = "canary-secret-Zq8Kv3Lm"

# what plants the canaries; every canary is in at least one sentence
SENTENCES = [
    "Seen by Dr. Okafor on 3/14/2021 for follow-up of heart failure.",
    "Daughter Ingrid Halvorsen called from 617-555-0143 and asked about the plan.",
    "Wife Siobhan Kowalczyk at bedside, e-mail ingrid.halvorsen@example.org.",
    "SSN 123-45-6789. MRN 84421907. DOB 03/14/1928.",
    "Lives at 42 Linden Street, Brookline, with her daughter.",
    "Pt is a 93-year-old woman with CHF.",
    "Records at https://chart.example.org/p/77 per Dr. Okafor.",
    "PT IS A 93-YEAR-OLD WOMAN. DAUGHTER INGRID HALVORSEN CALLED FROM 617-555-0143.",
]
CANARIES = ["Okafor", "Ingrid Halvorsen", "Halvorsen", "Siobhan Kowalczyk", "Kowalczyk", "3/14/2021", "03/14/1928",
            "617-555-0143", "123-45-6789", "84421907", "ingrid.halvorsen@example.org", "42 Linden Street",
            "Linden Street", "Brookline", "93-year-old", "chart.example.org"]


def carrier_note(rng: random.Random, placeholders: bool = False) -> str:
    """A demo clinical note without the PHI line that the demo sometimes adds (its names may be canaries)."""
    lines = clinical_note(rng, placeholders).splitlines(keepends=True)
    return "".join(line for line in lines if not line.startswith("Daughter "))


def planted_note(rng: random.Random) -> str:
    """A realistic note with three canary sentences at random places among its lines."""
    lines = carrier_note(rng).splitlines()
    for sentence in rng.sample(SENTENCES, 3):
        lines.insert(rng.randrange(len(lines) + 1), sentence)
    return "\n".join(lines) + "\n"


def every_canary() -> str:
    return "\n".join(SENTENCES) + "\n"


def write_inputs(root: Path) -> None:
    """Two sources that are not de-identified (JSONL and CSV, two files each so that both tasks read some),
    one de-identified source, and the tokenizer (trained on carrier text only)."""
    rng = random.Random(7)
    notes = root / "notes"
    notes.mkdir(parents=True)
    for part in range(2):
        rows = [json.dumps({"id": f"n{part}-{i}", "subject_id": f"p{i % 4}", "text": planted_note(rng)})
                for i in range(10)]
        rows.append(json.dumps({"id": f"all-{part}", "subject_id": "p9", "text": every_canary() + carrier_note(rng)}))
        rows.append(rows[-1])  # an exact duplicate: removed by dedup
        rows.append(json.dumps({"id": f"short-{part}", "text": "Dr. Okafor, 617-555-0143."}))  # too short, later
        rows.append(json.dumps({"id": f"long-{part}", "text": every_canary() * 40}))  # over max_chars, at read
        rows.append(json.dumps({"id": f"nokey-{part}", "body": every_canary()}))  # no text key
        rows.append(json.dumps({"id": f"cut-{part}", "text": every_canary()})[:-40])  # malformed: cut off
        (notes / f"part{part}.jsonl").write_text("\n".join(rows) + "\n")
    table = root / "table"
    table.mkdir()
    for part in range(2):
        with (table / f"part{part}.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["note_id", "kind", "text"])
            for i in range(8):
                writer.writerow([f"t{part}-{i}", "visit", planted_note(rng)])
            writer.writerow([f"x{part}", "billing", every_canary()])  # excluded by `include`
            writer.writerow([f"w{part}", "visit", every_canary(), "one field too many"])
    deid = root / "deid"
    deid.mkdir()
    (deid / "notes.jsonl").write_text("".join(
        json.dumps({"id": f"d{i}", "text": carrier_note(rng, placeholders=True) + "Seen by Dr. Marlowe.\n"}) + "\n"
        for i in range(8)))
    train_demo_tokenizer([carrier_note(rng) for _ in range(200)] + [web_page(rng) for _ in range(100)],
                         root / "tokenizer.model", vocab_size=600)


def write_recipe(root: Path, replacement: str, workers: int) -> Path:
    phi = {"kind": "phi", "replacement": replacement} | (
        {"secret_env": SECRET_ENV} if replacement == "surrogates" else {})
    recipe = {
        "name": "no-leak", "seed": 1, "output_dir": "unused", "data_root": str(root),
        "sources": [
            {"name": "notes", "domain": "clinical", "format": "jsonl", "paths": ["notes/*.jsonl"], "max_chars": 3000,
             "options": {"metadata_keys": ["subject_id"]}},
            {"name": "table", "domain": "clinical", "format": "csv", "paths": ["table/*.csv"],
             "options": {"text_column": "text", "id_column": "note_id", "include": {"kind": ["visit"]}}},
            {"name": "deid", "domain": "clinical", "format": "jsonl", "paths": ["deid/*.jsonl"], "deidentified": True},
        ],
        "stages": [{"kind": "normalize"}, {"kind": "length_filter", "min_chars": 60}, {"kind": "dedup"}, phi],
        "mix": {"total_tokens": 4000, "shares": {"clinical": 1}, "on_shortfall": "warn", "validation_fraction": 0.1},
        "tokenizer": {"path": "tokenizer.model"},
        "shards": {"seq_len": 64, "sequences_per_shard": 16},
        "executor": {"kind": "local", "tasks": 2, "workers": workers},
    }
    path = root / f"{replacement}-{workers}.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("no_leak") / "inputs"
    write_inputs(root)
    return root


@pytest.fixture
def secret(monkeypatch) -> str:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    return SECRET


# ----------------------------------------------------------------------------------------- the search


def decompressed(data: bytes) -> bytes:
    """As much of a gzip or zstd file as can be read (a task killed mid-write leaves a truncated one)."""
    if data[:2] == b"\x1f\x8b":
        decompressor = zlib.decompressobj(wbits=47)
        out = b""
        while data:
            try:
                out += decompressor.decompress(data)
            except zlib.error:
                break
            data = decompressor.unused_data  # the next gzip member, if any
            if data:
                decompressor = zlib.decompressobj(wbits=47)
        return out
    try:
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    except zstandard.ZstdError:
        return b""


def readable_forms(path: Path) -> list[bytes]:
    """The file's bytes, and what they hold: decompressed (by content: `.tmp` quarantines are gzip too), or a
    parquet table as text."""
    data = path.read_bytes()
    forms = [data]
    if data[:2] == b"\x1f\x8b" or data[:4] == b"\x28\xb5\x2f\xfd":
        forms.append(decompressed(data))
    if data[:4] == b"PAR1":
        forms.append(str(pq.read_table(path).to_pylist()).encode())
    return forms


def leaks(run_dir: Path, secret: str | None = None) -> list[str]:
    """Every (file, value) where a canary, or the secret, appears anywhere under `run_dir`."""
    needles = [c.lower().encode() for c in CANARIES] + ([secret.lower().encode()] if secret else [])
    found, files = [], 0
    for path in sorted(p for p in run_dir.rglob("*") if p.is_file()):
        files += 1
        for form in readable_forms(path):
            text = form.lower()
            found += [f"{path.relative_to(run_dir)}: {needle.decode()!r}" for needle in needles if needle in text]
    assert files > 10 and (run_dir / "logs").is_dir()  # the walk really saw the run
    return sorted(set(found))


def assert_the_canaries_went_in(inputs: Path) -> None:
    """The search would find every canary if it were there: each one is in the raw inputs."""
    raw = b"".join(p.read_bytes() for p in inputs.rglob("*") if p.suffix in (".jsonl", ".csv")).lower()
    assert all(c.lower().encode() in raw for c in CANARIES)


def assert_every_kind_of_record_was_exercised(run_dir: Path) -> None:
    ledger = read_ledger(run_dir).to_dicts()
    removed = {(row["stage_dir"].split("_", 1)[1], row["source"], row["reason"]) for row in ledger
               if row["outcome"] == "removed"}
    assert {("read", "notes", "too_long"), ("read", "notes", "malformed_json"), ("read", "notes", "missing_key:text"),
            ("read", "table", "excluded:kind"), ("read", "table", "malformed_row"),
            ("length_filter", "notes", "too_short"), ("dedup", "notes", "exact_duplicate")} <= removed
    assert check_accounts(run_dir) == []
    assert (run_dir / "shards" / "train" / "manifest.json").is_file()


def final_kept(run_dir: Path) -> str:
    """What the last cleaning stage (phi) kept, as text."""
    return "".join(gzip.decompress(p.read_bytes()).decode() for p in (run_dir / "stages" / "04_phi").glob("kept/*.gz"))


def phi_counts(run_dir: Path, stage: str) -> dict[tuple[str, str], int]:
    rows = [row for path in sorted(run_dir.glob(f"stages/{stage}/phi_counts/*.parquet"))
            for row in pq.read_table(path).to_pylist()]
    counts: dict[tuple[str, str], int] = {}
    for row in rows:
        counts[(row["source"], row["label"])] = counts.get((row["source"], row["label"]), 0) + row["spans"]
    return counts


# ------------------------------------------------------------------------------------------- the builds


@pytest.mark.slow
def test_a_build_with_tags_leaves_no_phi_anywhere_in_the_run_dir(inputs, tmp_path):
    from typer.testing import CliRunner

    from medmix.cli import app

    run_dir = tmp_path / "run"
    result = CliRunner().invoke(app, ["build", str(write_recipe(inputs, "tags", 2)), "--output-dir", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert_the_canaries_went_in(inputs)
    assert_every_kind_of_record_was_exercised(run_dir)
    assert leaks(run_dir) == []
    assert not any(c.lower() in result.output.lower() for c in CANARIES)
    # scrubbed once: at read for the two raw sources, in the phi stage for the de-identified one
    at_read, phi_stage = phi_counts(run_dir, "00_read"), phi_counts(run_dir, "04_phi")
    assert {source for source, _ in at_read} == {"notes", "table"} and {source for source, _ in phi_stage} == {"deid"}
    assert {"NAME", "DATE", "PHONE", "SSN", "EMAIL", "ADDRESS", "AGE", "URL"} <= {label for _, label in at_read}
    kept = final_kept(run_dir)
    assert "Daughter [NAME] called from [PHONE]" in kept and "Seen by Dr. [NAME]." in kept


def run_until_killed(recipe: Path, run_dir: Path) -> None:
    """`build` in a child process that kills itself (SIGKILL, its whole process group) in the read stage, in the
    middle of rank 1: rank 0 is complete, rank 1 has read one source and is reading the next."""
    script = f"""
import os, signal
from pathlib import Path
from medmix.corpus.build import build
from medmix.corpus.phi.redactor import Redactor
from medmix.corpus.recipe import load_recipe

run_dir = Path({str(run_dir)!r})
scrub, calls = Redactor.scrub, []

def scrub_then_die(self, doc):
    if (run_dir / "logs" / "00_read" / "read" / "completions" / "00000").exists():
        calls.append(doc.id)
        if len(calls) == 16:  # the table source of rank 1; the notes source's quarantine is written
            os.killpg(0, signal.SIGKILL)
    return scrub(self, doc)

Redactor.scrub = scrub_then_die
build(load_recipe({str(recipe)!r}, output_dir=str(run_dir)), run_dir)
"""
    child = subprocess.run([sys.executable, "-c", script], start_new_session=True, capture_output=True, timeout=600,
                           check=False)
    assert child.returncode == -signal.SIGKILL, child.stderr.decode(errors="replace")[-3000:]


@pytest.mark.slow
def test_a_build_with_surrogates_killed_mid_stage_and_resumed_leaves_no_phi_and_no_secret(inputs, tmp_path, secret,
                                                                                          monkeypatch):
    recipe = write_recipe(inputs, "surrogates", 1)  # one worker: tasks run in the process that kills itself
    run_dir = tmp_path / "run"
    run_until_killed(recipe, run_dir)
    completions = run_dir / "logs" / "00_read" / "read" / "completions"
    assert sorted(p.name for p in completions.iterdir()) == ["00000"]  # killed in the middle of the stage
    assert leaks(run_dir, secret) == []

    build(load_recipe(recipe, output_dir=str(run_dir)), run_dir)
    assert_every_kind_of_record_was_exercised(run_dir)
    assert leaks(run_dir, secret) == []
    identity = json.loads((run_dir / "phi_secret.json").read_text())
    assert identity == {"secret_env": SECRET_ENV, "fingerprint": secret_fingerprint(secret)}
    kept = final_kept(run_dir)
    assert "Daughter [NAME]" not in kept and "[PHONE]" in kept  # surrogate names, tagged numbers

    # the same run dir refuses another key, and a build without one
    monkeypatch.setenv(SECRET_ENV, "another-secret")
    with pytest.raises(BuildError, match=f"built with another surrogate secret than the one in {SECRET_ENV}"):
        build(load_recipe(recipe, output_dir=str(run_dir)), run_dir)
    monkeypatch.setenv(SECRET_ENV, "")
    with pytest.raises(BuildError, match=f"the environment variable {SECRET_ENV} is not set or is empty"):
        build(load_recipe(recipe, output_dir=str(run_dir)), run_dir)


# ------------------------------------------------------------------------------------- the secret, fast


def test_a_changed_secret_is_refused_on_resume_before_anything_runs(inputs, tmp_path, secret, monkeypatch):
    """Refused at the start, from the run identity: no task runs with a key that differs from the run's."""
    recipe = load_recipe(write_recipe(inputs, "surrogates", 2), output_dir=str(tmp_path / "run"))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "phi_secret.json").write_text(json.dumps({"secret_env": SECRET_ENV,
                                                         "fingerprint": secret_fingerprint("the old key")}))
    with pytest.raises(BuildError, match=f"another surrogate secret than the one in {SECRET_ENV}; set the secret"):
        build(recipe, run_dir)
    assert sorted(p.name for p in run_dir.iterdir()) == ["phi_secret.json"]
    monkeypatch.delenv(SECRET_ENV)
    with pytest.raises(BuildError, match=f"^surrogates need a secret: the environment variable {SECRET_ENV} is not"):
        build(recipe, tmp_path / "other")
    assert not (tmp_path / "other").exists()


def test_a_task_refuses_a_secret_that_is_not_the_one_the_build_started_with(monkeypatch):
    """A Slurm node or a Ray cluster may hold another value of the variable than the submitting shell."""
    stage = PhiStage(kind="phi", replacement="surrogates", secret_env=SECRET_ENV)
    monkeypatch.setenv(SECRET_ENV, "the node's key")
    with pytest.raises(SecretError, match=f"the secret in {SECRET_ENV} is not the one this build was started with"):
        task_redactor(PhiSettings(stage, secret_fingerprint("the build's key")))


def test_the_fingerprint_tells_keys_apart_and_is_not_a_plain_hash():
    import hashlib

    fingerprint = secret_fingerprint(SECRET)
    assert fingerprint == Surrogates(SECRET).fingerprint and len(fingerprint) == 16
    assert fingerprint != secret_fingerprint(SECRET + "x")
    assert fingerprint != hashlib.sha256(SECRET.encode()).hexdigest()[:16]


def test_the_recipe_names_the_secret_variable_and_never_holds_the_secret():
    base = {"name": "r", "output_dir": "o", "mix": {"total_tokens": 1, "shares": {"clinical": 1}},
            "tokenizer": {"path": "t"},
            "sources": [{"name": "notes", "domain": "clinical", "format": "jsonl", "paths": ["x"]}]}
    with pytest.raises(RecipeError, match=r"stages\[0\] \(phi\): a `secret` in the recipe would be copied into the run "
                                          r"directory; put it in an environment variable"):
        parse_recipe(base | {"stages": [{"kind": "phi", "replacement": "surrogates", "secret": SECRET}]})
    with pytest.raises(RecipeError, match=r"stages\[0\] \(phi\): replacement 'surrogates' needs `secret_env`"):
        parse_recipe(base | {"stages": [{"kind": "phi", "replacement": "surrogates"}]})
    with pytest.raises(RecipeError, match=r"stages\[0\] \(phi\) -> secret_env: String should match pattern") as error:
        parse_recipe(base | {"stages": [{"kind": "phi", "replacement": "surrogates", "secret_env": "p@ss w0rd!"}]})
    assert "p@ss" not in str(error.value)  # a secret pasted in the wrong place is not echoed
    with pytest.raises(RecipeError, match=r"stages: at most one `phi` stage"):
        parse_recipe(base | {"stages": [{"kind": "phi"}, {"kind": "phi"}]})
    recipe = parse_recipe(base | {"stages": [{"kind": "phi", "replacement": "surrogates", "secret_env": SECRET_ENV}]})
    assert recipe.model_dump(mode="json")["stages"][0]["secret_env"] == SECRET_ENV


# ---------------------------------------------------------------------------------- a reader that scrubs


def test_a_reader_scrubs_what_it_keeps_and_what_it_quarantines(tmp_path, run_step):
    from medmix.corpus.readers.tabular import JsonlSourceReader

    path = tmp_path / "notes.jsonl"
    path.write_text("\n".join([
        json.dumps({"id": "a", "subject_id": "p1", "text": every_canary()}),
        json.dumps({"id": "long", "text": every_canary() * 20}),
        json.dumps({"id": "cut", "text": every_canary()})[:-30],
    ]) + "\n")
    stage_dir = tmp_path / "stage"
    reader = JsonlSourceReader(stage_dir, "read", source="notes", domain="clinical", files=[str(path)], max_chars=2000,
                         metadata_keys=["subject_id"], phi=PhiSettings(PhiStage(kind="phi")))
    result = run_step(reader)
    [doc] = result.docs
    assert doc.text.startswith("Seen by Dr. [NAME] on [DATE]") and doc.metadata["phi_spans"] >= 15
    assert result.reasons() == {"too_long": 1, "malformed_json": 1}
    for record in result.removed:
        assert "[NAME]" in record["text"] and record["id"] in ("long", None)
    counts = pq.read_table(stage_dir / "phi_counts" / "read_notes-00000.parquet").to_pylist()
    written = (json.dumps(result.removed) + str(counts)).lower()
    assert not [c for c in CANARIES if c.lower() in written]
    # the books: what came in, what left kept (shorter, scrubbed) and what the scrubbing took away
    kept = [row for row in result.ledger if row["outcome"] in ("kept", "edited")]
    assert sum(row["chars"] for row in kept) == len(every_canary())
