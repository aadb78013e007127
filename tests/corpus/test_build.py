"""Recipes compile to datatrove pipelines: local runs, resume, Ray, Slurm, and books that add up."""

import gzip
import json
import os
import shutil
import stat
from pathlib import Path

import dill
import pytest

from medmix.corpus.build import BuildError, build
from medmix.corpus.demo_data import DEMO_PHI_SECRET, write_demo_inputs
from medmix.corpus.identity import IdentityError, record_identity
from medmix.corpus.ledger import check_accounts, read_ledger, stage_summary
from medmix.corpus.recipe import load_recipe
from medmix.rundir import RunDir

DEMO_RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "demo.yaml"
pytestmark = pytest.mark.slow  # the module builds the demo corpus


@pytest.fixture(scope="module", autouse=True)
def phi_secret():
    """The demo recipe's surrogates read their key from MEDMIX_PHI_SECRET, as `medmix demo` sets it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MEDMIX_PHI_SECRET", DEMO_PHI_SECRET)
        yield


@pytest.fixture(scope="module")
def demo_generated(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    root = tmp_path_factory.mktemp("demo") / "inputs"
    return root, write_demo_inputs(root)


@pytest.fixture(scope="module")
def demo_inputs(demo_generated) -> Path:
    return demo_generated[0]


def demo_recipe(inputs: Path, run_dir: Path, **overrides):
    return load_recipe(DEMO_RECIPE, data_root=str(inputs), output_dir=str(run_dir), **overrides)


def kept_content(run_dir: Path) -> dict[str, list[str]]:
    """Every stage's kept output, file by file, decompressed (gzip headers carry timestamps)."""
    return {
        f"{stage.name}/{path.name}": gzip.decompress(path.read_bytes()).decode().splitlines()
        for stage in RunDir(run_dir).stages()
        for path in sorted(stage.kept.glob("*.jsonl.gz"))
    }


@pytest.fixture(scope="module")
def local_run(demo_inputs, tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("local") / "run"
    build(demo_recipe(demo_inputs, run_dir), run_dir)
    return run_dir


def final_stage(run_dir: Path) -> str:
    return RunDir(run_dir).stages()[-1].name


def test_every_record_is_accounted_for_in_every_stage(local_run, demo_generated):
    assert check_accounts(local_run) == []
    summary = {(r["stage_dir"], r["source"]): r for r in stage_summary(read_ledger(local_run)).iter_rows(named=True)}
    read = {source: row for (stage, source), row in summary.items() if stage == "00_read"}
    # every raw record the generator wrote entered the read stage
    assert {s: r["docs_in"] for s, r in read.items()} == demo_generated[1]
    assert read["redpajama"]["docs_removed"] == 1 and read["mimic3"]["docs_removed"] == 2
    assert read["clinic"]["docs_removed"] == 1 and read["clinic"]["chars_edited"] != 0  # scrubbed as it was read
    final = final_stage(local_run)
    kept_lines = sum(len(lines) for name, lines in kept_content(local_run).items() if name.startswith(final))
    assert kept_lines == sum(r["docs_kept"] for (stage, _), r in summary.items() if stage == final)


def test_pubmed_update_file_deletes_and_supersedes(local_run):
    removed = [json.loads(line) for path in (local_run / "stages").glob("01_pubmed_versions/removed/*/*.jsonl.gz")
               for line in gzip.open(path, "rt")]
    assert sorted((r["id"], r["reason"]) for r in removed) == [("31000001", "superseded"),
                                                               ("31000002", "deleted_citation")]
    final = [json.loads(line) for name, lines in kept_content(local_run).items()
             if name.startswith(final_stage(local_run)) for line in lines]
    versions = [d["metadata"]["file_index"] for d in final if d["id"] == "31000001"]
    assert versions == [1] and not any(d["id"] == "31000002" for d in final if d["metadata"]["source"] == "pubmed")


def test_rebuilding_a_finished_run_changes_nothing(local_run, demo_inputs):
    before = kept_content(local_run)
    stamps = {p: p.stat().st_mtime_ns for p in local_run.glob("stages/*/kept/*.jsonl.gz")}
    build(demo_recipe(demo_inputs, local_run), local_run)
    assert kept_content(local_run) == before
    assert {p: p.stat().st_mtime_ns for p in local_run.glob("stages/*/kept/*.jsonl.gz")} == stamps  # nothing re-ran


def test_an_interrupted_build_resumes_to_the_same_output(local_run, demo_inputs, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(local_run, run_dir)
    expected = kept_content(local_run)
    quarantine = run_dir / "stages" / "01_pubmed_versions" / "removed" / "pubmed_versions"
    expected_removed = {p.name: gzip.decompress(p.read_bytes()) for p in quarantine.glob("*.jsonl.gz")}
    # what a task killed mid-write leaves: no completion marker, a partial output, a stale quarantine
    for phase in ("01_pubmed_versions/pubmed_versions", "06_dedup/filter", "07_decontaminate/decontaminate", "08_phi/phi",
                  "shards/pack"):
        (run_dir / "logs" / phase / "completions" / "00001").unlink()
    partial = run_dir / "stages" / final_stage(run_dir) / "kept" / "00001.jsonl.gz"
    partial.write_bytes(partial.read_bytes()[:100])
    (quarantine / "00001.jsonl.gz").write_bytes(gzip.compress(b'{"stale": true}\n'))
    expected_shards = shard_bytes(run_dir)
    (run_dir / "shards" / "train" / "shard_00001.bin").write_bytes(b"half a shard")
    build(demo_recipe(demo_inputs, run_dir), run_dir)
    assert kept_content(run_dir) == expected
    assert shard_bytes(run_dir) == expected_shards
    # the re-run of rank 1 replaced (or, having removed nothing, deleted) its stale quarantine
    rank1 = quarantine / "00001.jsonl.gz"
    assert (gzip.decompress(rank1.read_bytes()) if rank1.exists() else None) == expected_removed.get(rank1.name)
    assert check_accounts(run_dir) == []


def removed_records(run_dir: Path, stage: str) -> list[dict]:
    return [json.loads(line) for path in (run_dir / "stages").glob(f"{stage}/removed/*/*.jsonl.gz")
            for line in gzip.open(path, "rt")]


def test_the_cleaning_stages_catch_what_the_demo_planted(local_run):
    language = removed_records(local_run, "04_language_filter")
    assert {r["reason"] for r in language} >= {"language:fr", "language:de", "language:es"}
    dedup = removed_records(local_run, "06_dedup")
    reasons = [r["reason"] for r in dedup]
    assert reasons.count("near_duplicate") == 10  # ten near-copies planted in the web pages
    assert reasons.count("contained_in_full_text") == 6  # six PubMed abstracts of PMC articles
    # the web copy of a PubMed record loses to PubMed, which comes first in the recipe's priority
    cross = [r for r in dedup if r["reason"] == "exact_duplicate" and "(pubmed)" in r["detail"]]
    assert len(cross) == 1 and cross[0]["metadata"]["source"] == "redpajama"
    leaked = removed_records(local_run, "07_decontaminate")
    assert sorted(r["metadata"]["source"] for r in leaked) == ["pubmed", "redpajama"]
    assert all(r["reason"] == "benchmark:demo_medqa" and r["detail"].startswith("item ") for r in leaked)


def test_status_command_shows_stages_and_removals(local_run, tmp_path):
    from typer.testing import CliRunner

    from medmix.cli import app

    result = CliRunner().invoke(app, ["status", str(local_run)])
    assert result.exit_code == 0, result.output
    for expected in ("07_decontaminate", "no_abstract", "flagged_error", "malformed_json", "deleted_citation",
                     "near_duplicate", "benchmark:demo_medqa", "signatures 2/2", "clusters 1/1"):
        assert expected in result.output
    assert "do not add up" not in result.output
    missing = CliRunner().invoke(app, ["status", str(tmp_path)])
    assert missing.exit_code == 2 and "not a medmix run directory" in missing.output


def test_a_run_dir_refuses_a_different_recipe(local_run, demo_inputs):
    with pytest.raises(BuildError, match="different recipe"):
        build(demo_recipe(demo_inputs, local_run, seed=7), local_run)


def test_a_resume_refuses_an_edited_input_and_accepts_a_touched_one(demo_inputs, tmp_path):
    inputs = tmp_path / "inputs"
    shutil.copytree(demo_inputs, inputs)
    run = RunDir(tmp_path / "run")
    recipe = demo_recipe(inputs, run.root)
    record_identity(recipe, run, None)
    recorded = json.loads(run.identity_file("inputs.json").read_text())
    source, entries = next(iter(recorded.items()))
    victim = Path(entries[0]["path"])
    os.utime(victim, ns=(1, 1))  # touched (copied, restored from a backup): same content, so it resumes
    record_identity(recipe, run, None)
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 1  # one bit of one byte, same size
    victim.write_bytes(data)
    os.utime(victim, ns=(1, 1))  # even with the old mtime restored, the content hash tells
    with pytest.raises(IdentityError, match=rf"input file {victim} of source '{source}' has changed since the run "
                                            "read it; build into a fresh output_dir, or re-run with --force-restart"):
        record_identity(recipe, run, None)
    run.clear()  # what --force-restart does first
    assert record_identity(recipe, run, None)[source][0] == str(victim)


def test_a_build_refuses_a_directory_of_other_files(demo_inputs, tmp_path):
    """A build writes stages/, logs/, tokens/ ..., and --force-restart removes them: never in someone else's folder."""
    (tmp_path / "mine" / "stages").mkdir(parents=True)
    (tmp_path / "mine" / "stages" / "notes.txt").write_text("keep me")
    (tmp_path / "mine" / "important.txt").write_text("keep me too")
    with pytest.raises(BuildError, match=r"holds files that a build did not write \(important.txt\)"):
        build(demo_recipe(demo_inputs, tmp_path / "mine"), tmp_path / "mine", force_restart=True)
    assert (tmp_path / "mine" / "stages" / "notes.txt").read_text() == "keep me"


@pytest.mark.integration  # a Ray cluster started in this process
def test_ray_gives_the_same_output_as_local(local_run, demo_inputs, tmp_path):
    ray = pytest.importorskip("ray")
    run_dir = tmp_path / "ray"
    recipe = demo_recipe(demo_inputs, run_dir, executor={"kind": "ray", "tasks": 2, "mem_per_cpu_gb": 0.5})
    from medmix.corpus.executors import RAY_RUNTIME_ENV

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env=RAY_RUNTIME_ENV)
    try:
        build(recipe, run_dir)
    finally:
        ray.shutdown()
    assert kept_content(run_dir) == kept_content(local_run)
    assert check_accounts(run_dir) == []
    assert shard_bytes(run_dir) == shard_bytes(local_run)  # another executor and run dir: the same bytes


def shard_bytes(run_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted((run_dir / "shards").rglob("*")) if p.is_file()}


def test_the_demo_shards_realize_the_recipe_mix_and_the_audit_reads_them(local_run, tmp_path):
    from typer.testing import CliRunner

    from medmix.cli import app
    from medmix.train.data import PackedSequences

    result = CliRunner().invoke(app, ["audit", str(local_run), "--json", str(tmp_path / "a.json"),
                                      "--html", str(tmp_path / "a.html")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "a.json").read_text())
    assert [(r["key"], r["within_tolerance"]) for r in report["shares"]] == [
        ("biomedical", True), ("clinical", True), ("general", True)]
    realized = {r["key"]: r["realized_pct"] for r in report["shares"]}
    assert abs(realized["biomedical"] - 75) <= 0.5 and abs(realized["clinical"] - 5) <= 0.5
    factors = {r["source"]: r["repetition_factor"] for r in report["tokens"]}
    assert factors["pubmed"] > 3 and factors["mimic3"] < 0.5  # literature repeated, notes down-sampled
    readme = " ".join((DEMO_RECIPE.parents[1] / "README.md").read_text().split())
    quoted = (f"biomedical {realized['biomedical']:.2f}%, clinical {realized['clinical']:.2f}%, general "
              f"{realized['general']:.2f}% against 75 : 5 : 20. There literature is repeated {factors['pubmed']:.2f} "
              f"times and the notes are down-sampled to {factors['mimic3']:.2f} of a pass")
    assert quoted in readme  # the README's demo figures are this run's
    phi = {(r["source"], r["label"]) for r in report["phi"]}
    assert {("clinic", "NAME"), ("clinic", "DATE"), ("clinic", "PHONE"), ("mimic3", "NAME"), ("mimic3", "PHONE")} <= phi
    assert "<svg" in (tmp_path / "a.html").read_text()
    again = CliRunner().invoke(app, ["audit", str(local_run), "--json", str(tmp_path / "b.json"),
                                     "--html", str(tmp_path / "b.html")])
    assert again.exit_code == 0  # the same run audited twice gives the same bytes
    for suffix in ("json", "html"):
        assert (tmp_path / f"a.{suffix}").read_bytes() == (tmp_path / f"b.{suffix}").read_bytes()
    manifest = json.loads((local_run / "shards" / "train" / "manifest.json").read_text())
    dataset = PackedSequences(local_run / "shards" / "train", tokenizer_sha256=manifest["tokenizer_sha256"],
                              verify_checksums=True)
    assert len(dataset) == manifest["sequences"] and dataset[0].shape == (512,)
    assert sorted(p.name for p in (local_run / "shards").iterdir()) == [
        "train", "valid_biomedical", "valid_clinical", "valid_general"]


FAKE_SBATCH = """#!/usr/bin/env python3
import sys, pathlib
log = pathlib.Path(sys.argv[0]).with_name("calls.txt")
calls = log.read_text().splitlines() if log.exists() else []
script = pathlib.Path(sys.argv[-1]).read_text()
log.write_text("\\n".join(calls + [" ".join(sys.argv[1:-1])]) + "\\n")
(log.parent / f"script_{len(calls)}.slurm").write_text(script)
print(f"Submitted batch job {1000 + len(calls)}")
"""


def test_slurm_submits_one_job_array_per_stage_chained_by_dependencies(demo_inputs, tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    sbatch = bin_dir / "sbatch"
    sbatch.write_text(FAKE_SBATCH)
    sbatch.chmod(sbatch.stat().st_mode | stat.S_IEXEC)
    squeue = bin_dir / "squeue"
    squeue.write_text("#!/bin/sh\n")  # an empty queue: nothing of this run is pending
    squeue.chmod(squeue.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    run_dir = tmp_path / "run"
    recipe = demo_recipe(demo_inputs, run_dir, executor={
        "kind": "slurm", "tasks": 8, "partition": "cpu-long", "time": "02:00:00", "cpus_per_task": 2,
        "mem_per_cpu_gb": 4, "venv": "/opt/medmix/bin/activate", "sbatch_args": {"account": "medlab", "qos": "high"}})
    build(recipe, run_dir)

    calls = (bin_dir / "calls.txt").read_text().splitlines()
    scripts = sorted(run_dir.glob("logs/*/*/launch_script.slurm"), key=lambda p: p.stat().st_mtime_ns)
    phases = [script.parent for script in scripts]
    # each phase: its job array, then datatrove's stats-merging job; each array waits for the one before
    job_calls = calls[0::2]
    assert len(calls) == 2 * len(phases) == 2 * 17  # 9 stages (dedup in 5 phases), then 4 shard phases
    from medmix.corpus.slurm import last_submission

    submitted = last_submission(RunDir(run_dir))["submitted"]  # each phase's job array, for `medmix status`
    assert list(submitted.values()) == [str(1000 + 2 * n) for n in range(17)] and "06_dedup/filter" in submitted
    assert "--dependency" not in job_calls[0]
    for number, call in enumerate(job_calls[1:], start=1):
        assert f"--dependency=afterok:{1000 + 2 * (number - 1)}" in call
    for phase in phases:
        script = (phase / "launch_script.slurm").read_text()
        array = "--array=0-0" if phase.name in ("clusters", "mix", "manifests") else "--array=0-7"  # one-task phases
        for directive in ("--partition=cpu-long", "--time=02:00:00", "--cpus-per-task=2", "--mem-per-cpu=4G",
                          array, "--account=medlab", "--job-name=medmix-demo-", "--qos=high"):
            assert f"#SBATCH {directive}" in script
        assert "--qos=normal" not in script
        assert "source /opt/medmix/bin/activate" in script
        assert f"launch_pickled_pipeline {phase / 'executor.pik'}" in script
    # the pickled executor that the nodes load carries the real medmix steps
    with open(run_dir / "logs" / "06_dedup" / "filter" / "executor.pik", "rb") as handle:
        executor = dill.load(handle)
    assert [type(step).__name__ for step in executor.pipeline] == ["StageInput", "DedupFilter", "StageOutput"]


def test_a_stage_that_keeps_nothing_leaves_the_later_stages_empty_and_the_mix_says_why(demo_inputs, tmp_path):
    recipe = demo_recipe(demo_inputs, tmp_path / "run")
    stages = [stage.model_copy(update={"min_chars": 10_000_000}) if stage.kind == "length_filter" else stage
              for stage in recipe.stages]
    recipe = recipe.model_copy(update={"stages": stages})
    with pytest.raises(BuildError, match=r"shards: mix failed: .*source 'pmc' has no tokens left after cleaning"):
        build(recipe, tmp_path / "run")  # the cleaning stages run through; only the mix has nothing to mix
    assert kept_content(tmp_path / "run") and not any(
        lines for name, lines in kept_content(tmp_path / "run").items() if name.startswith(("04_", "05_", "06_", "07_", "08_")))
    assert check_accounts(tmp_path / "run") == []
    from typer.testing import CliRunner

    from medmix.cli import app

    unfinished = CliRunner().invoke(app, ["audit", str(tmp_path / "run")])
    assert unfinished.exit_code == 1 and "no training shards yet" in unfinished.output
