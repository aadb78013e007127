"""Real clusters: the demo built on a localhost Slurm cluster and on a `ray start` cluster gives shards
byte-identical to a local build. `.ci/run` starts both services (`.ci/slurm-up`); elsewhere these tests skip,
giving the reason, when the daemons are not there."""

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from medmix.corpus.build import build
from medmix.corpus.demo_data import DEMO_PHI_SECRET, write_demo_inputs
from medmix.corpus.recipe import load_recipe

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
def local_digests(inputs, tmp_path_factory) -> dict[str, str]:
    run_dir = tmp_path_factory.mktemp("cluster_local") / "run"
    build(recipe(inputs, run_dir), run_dir)
    digests = shard_digests(run_dir)
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


def our_jobs(name_prefix: str) -> list[str]:
    """`id name state reason` of the queued jobs whose name starts with `name_prefix`."""
    listed = subprocess.run(["squeue", "-h", "-o", "%i %j %T %r"], capture_output=True, text=True, check=True).stdout
    return [line for line in listed.splitlines() if f" {name_prefix}" in line]


def test_slurm_gives_the_same_shards_as_local(inputs, local_digests, tmp_path):
    if reason := slurm_is_up():
        pytest.skip(reason)
    run_dir = tmp_path / "slurm"
    build(recipe(inputs, run_dir, executor={"kind": "slurm", "tasks": 2, "partition": "cpu", "time": "00:30:00",
                                            "mem_per_cpu_gb": 2}), run_dir)  # submits the chain and returns
    deadline = time.monotonic() + CLUSTER_TIMEOUT
    while (left := our_jobs("medmix-demo")) and time.monotonic() < deadline:
        if any(line.endswith("DependencyNeverSatisfied") for line in left):
            break  # a phase failed: the rest of the chain would wait forever
        time.sleep(2)
    if left:
        subprocess.run(["scancel", *[line.split()[0].split("_")[0] for line in left]], check=False)
    assert not left, f"jobs left in the queue (a failed phase, or {CLUSTER_TIMEOUT} s passed): {left[:3]}"
    assert shard_digests(run_dir) == local_digests


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
