"""What medmix asks of Slurm besides datatrove's submission: which jobs of a run are still in the queue.

datatrove submits each phase as a job array plus a small stats-merging job, each waiting on the phase
before (`--dependency=afterok`). When one array fails or is cancelled, the rest of the chain can never
start: it waits forever as `DependencyNeverSatisfied`. And a build re-run while its chain is still
queued would submit a second chain that races the first. So before submitting, `medmix build` looks
for the run's jobs in the queue: stale ones are cancelled, live ones stop the build.

A job belongs to a run when its log file lies in the run's `logs/` folder (datatrove points every
job's `--output` there), so a run is recognised whoever submitted it and whatever its job names.
The ids of the last submission are kept in `logs/slurm_jobs.json`, for `medmix status`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from medmix.io import write_json
from medmix.rundir import RunDir

NEVER = "DependencyNeverSatisfied"


class SlurmError(RuntimeError):
    """Slurm could not be asked; the message says what it answered."""


@dataclass(frozen=True)
class QueuedJob:
    job_id: str  # the array's id for array tasks: what scancel takes
    state: str  # PENDING, RUNNING, ...
    reason: str  # why it waits: Dependency, DependencyNeverSatisfied, Resources, ...
    log: str  # its --output file



def queued_jobs(run: RunDir) -> list[QueuedJob]:
    """The run's jobs in Slurm's queue (pending or running), one entry per job array; [] without Slurm."""
    if not shutil.which("squeue"):
        return []
    listed = subprocess.run(["squeue", "-h", "-O", "ArrayJobID:30,State:30,Reason:60,StdOut:4096"],
                            capture_output=True, text=True)
    if listed.returncode != 0:
        raise SlurmError(f"squeue failed ({listed.stderr.strip() or listed.returncode}): is the Slurm controller "
                         "reachable from here?")
    listing = listed.stdout
    logs = (run.root / "logs").resolve()
    jobs = {}
    for line in listing.splitlines():
        fields = line.split(maxsplit=3)
        if len(fields) == 4 and Path(fields[3].strip()).resolve().is_relative_to(logs):
            jobs.setdefault(fields[0], QueuedJob(fields[0], fields[1], fields[2], fields[3].strip()))
    return sorted(jobs.values(), key=lambda job: int(job.job_id) if job.job_id.isdigit() else 0)


def stale_jobs(jobs: list[QueuedJob]) -> list[QueuedJob]:
    """The jobs of a broken chain: once one job waits on a failed or cancelled one (`DependencyNeverSatisfied`),
    every job still waiting on a dependency can never start, though Slurm marks only the first ones so."""
    if not any(job.reason == NEVER for job in jobs):
        return []
    return [job for job in jobs if job.state == "PENDING" and job.reason.startswith("Dependency")]


def cancel(jobs: list[QueuedJob]) -> None:
    if jobs:
        subprocess.run(["scancel", *[job.job_id for job in jobs]], check=True, capture_output=True)


def record_submission(run: RunDir, jobs: dict[str, str], cancelled: list[str]) -> None:
    """The job array of each phase submitted (`RunDir.phase_key` -> job id), and the stale jobs cancelled first."""
    write_json(run.slurm_jobs, {"submitted": jobs, "cancelled_stale": cancelled}, indent=1)


def last_submission(run: RunDir) -> dict:
    return json.loads(run.slurm_jobs.read_text()) if run.slurm_jobs.is_file() else {"submitted": {}, "cancelled_stale": []}
