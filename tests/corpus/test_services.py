"""Real services: the demo built on a localhost Slurm cluster and on a `ray start` cluster gives shards
byte-identical to a local build, and the local build's audit report renders in a real browser. `.ci/run`
starts the services (`.ci/slurm-up`) and installs chromium; elsewhere these tests skip, giving the reason,
when the daemons or the browser are not there."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from medmix.corpus.build import BuildError, build
from medmix.corpus.demo_data import DEMO_PHI_SECRET, write_demo_inputs
from medmix.corpus.recipe import load_recipe
from medmix.corpus.slurm import last_submission, queued_jobs, stale_jobs
from medmix.rundir import RunDir

pytestmark = pytest.mark.integration
DEMO_RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "demo.yaml"
CLUSTER_TIMEOUT = 900  # seconds a whole demo build may take on a cluster


@pytest.fixture(scope="module", autouse=True)
def phi_secret():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MEDMIX_PHI_SECRET", DEMO_PHI_SECRET)  # jobs inherit it: Slurm exports the environment
        yield


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cluster_demo") / "inputs"
    write_demo_inputs(root)
    return root


def recipe(inputs: Path, run_dir: Path, **overrides):
    return load_recipe(DEMO_RECIPE, data_root=str(inputs), output_dir=str(run_dir), **overrides)


def shard_digests(run_dir: Path) -> dict[str, str]:
    shards = run_dir / "shards"
    return {str(p.relative_to(shards)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(shards.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def local_run(inputs, tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("cluster_local") / "run"
    build(recipe(inputs, run_dir), run_dir)
    return run_dir


@pytest.fixture(scope="module")
def local_digests(local_run) -> dict[str, str]:
    digests = shard_digests(local_run)
    assert any(name.endswith(".bin") for name in digests) and "train/manifest.json" in digests
    return digests


def slurm_is_up() -> str | None:
    """Why the Slurm test cannot run here, or None."""
    if not shutil.which("sbatch"):
        return "no Slurm client (sbatch) on this machine; .ci/slurm-up installs and starts a localhost cluster"
    state = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True)
    if state.returncode != 0 or not any(s in state.stdout for s in ("idle", "mix", "alloc")):
        return "Slurm daemons are not running (run .ci/slurm-up as root)"
    return None


def wait_for(run: RunDir, until, timeout: float = CLUSTER_TIMEOUT) -> list:
    """Poll the run's queued jobs until `until(jobs)` holds or `timeout` passes; the jobs last seen."""
    deadline = time.monotonic() + timeout
    while not until(jobs := queued_jobs(run)) and time.monotonic() < deadline:
        time.sleep(2)
    return jobs


def test_slurm_gives_the_same_shards_as_local_and_a_rerun_tidies_the_queue(inputs, local_digests, tmp_path):
    if reason := slurm_is_up():
        pytest.skip(reason)
    run = RunDir(tmp_path / "slurm")
    slurm = recipe(inputs, run.root, executor={"kind": "slurm", "tasks": 2, "partition": "cpu", "time": "00:30:00",
                                               "mem_per_cpu_gb": 2})
    build(slurm, run.root)  # submits the chain and returns
    first = last_submission(run)["submitted"]
    assert len(first) == 17 and queued_jobs(run)  # 13 cleaning phases (dedup has 5), 4 shard phases
    with pytest.raises(BuildError, match=r"Slurm jobs of an earlier submission of .* are still queued or running"):
        build(slurm, run.root)  # a second chain would race the first
    subprocess.run(["scancel", first["00_read/read"]], check=True)  # the chain breaks: the rest can never start
    queued = wait_for(run, lambda jobs: (stale := stale_jobs(jobs)) and len(stale) == len(jobs), timeout=120)
    assert queued and stale_jobs(queued) == queued, queued
    build(slurm, run.root)  # cancels the stale chain, then submits a new one
    assert sorted(last_submission(run)["cancelled_stale"]) == sorted(job.job_id for job in queued)
    left = wait_for(run, lambda jobs: not jobs or stale_jobs(jobs))
    if left:
        subprocess.run(["scancel", *[job.job_id for job in left]], check=False)
    assert not left, f"jobs left in the queue (a failed phase, or {CLUSTER_TIMEOUT} s passed): {left[:3]}"
    assert shard_digests(run.root) == local_digests
    build(slurm, run.root)  # finished: nothing to submit
    assert last_submission(run)["submitted"] == {} and not queued_jobs(run)


def test_a_ray_start_cluster_gives_the_same_shards_as_local(inputs, local_digests, tmp_path):
    ray = pytest.importorskip("ray")
    ray_cli = shutil.which("ray", path=os.path.dirname(sys.executable)) or shutil.which("ray")
    if ray_cli is None:
        pytest.skip("the ray command is not installed")
    if ray.is_initialized():
        ray.shutdown()
    started = subprocess.run([ray_cli, "start", "--head", "--num-cpus", "2", "--include-dashboard", "false",
                              "--disable-usage-stats"], capture_output=True, text=True)
    if started.returncode != 0:
        pytest.skip(f"`ray start --head` failed here: {started.stderr.strip().splitlines()[-1:]}")
    try:
        run_dir = tmp_path / "ray"
        build(recipe(inputs, run_dir, executor={"kind": "ray", "tasks": 2, "address": "auto",
                                                "mem_per_cpu_gb": 0.5}), run_dir)
        assert shard_digests(run_dir) == local_digests
    finally:
        ray.shutdown()
        subprocess.run([ray_cli, "stop", "--force"], capture_output=True)


def test_the_demo_audit_report_renders_in_chromium(local_run, tmp_path):
    """The demo's audit.html in a real browser (Debian's chromium, headless): it loads without a console message,
    and its charts are drawn: the SVG elements are in the rendered page and their colours on the screen."""
    browser = shutil.which("chromium")
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run installs it)")
    from PIL import Image
    from typer.testing import CliRunner

    from medmix.cli import app
    from medmix.corpus.report import KEPT, SHARDS, STAGE_COLOURS, TARGET

    page, shot = tmp_path / "audit.html", tmp_path / "audit.png"
    audited = CliRunner().invoke(app, ["audit", str(local_run), "--json", str(tmp_path / "audit.json"),
                                       "--html", str(page)])
    assert audited.exit_code == 0, audited.output
    rendered = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                               "--enable-logging=stderr", "--v=0", "--window-size=1280,3200", f"--screenshot={shot}",
                               "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert rendered.returncode == 0, rendered.stderr[-2000:]
    assert [line for line in rendered.stderr.splitlines() if ":CONSOLE" in line] == []  # chromium logs each one
    assert rendered.stdout.count("<svg") == 3  # the charts, with every bar's tooltip:
    assert rendered.stdout.count("<title>") == page.read_text().count("<title>") > 50
    pixels = {"#%02x%02x%02x" % rgb: n for n, rgb in Image.open(shot).convert("RGB").getcolors(1 << 24)}
    removing_stages = len({r["stage_dir"] for r in json.loads((tmp_path / "audit.json").read_text())["removals"]})
    for colour in (TARGET, KEPT, SHARDS, *STAGE_COLOURS[:removing_stages]):  # shares, funnel, every stage's removals
        assert pixels.get(colour, 0) > 50, f"{colour} is not on the screen"
