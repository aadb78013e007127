"""Hospitals run medmix air-gapped: the whole demo must run with every internet socket refused."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

GUARD = Path(__file__).parent / "offline"


def run_offline(args: list[str], tmp_path: Path) -> tuple[subprocess.CompletedProcess, str]:
    log = tmp_path / "network_attempts.log"
    env = {**os.environ, "PYTHONPATH": str(GUARD), "MEDMIX_NETWORK_LOG": str(log),
           "HF_HUB_OFFLINE": "0"}  # no help from offline flags: the code itself must not reach out
    result = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    return result, log.read_text() if log.exists() else ""


def test_the_guard_really_blocks(tmp_path):
    code = "import urllib.request; urllib.request.urlopen('http://example.org', timeout=2)"
    result, attempts = run_offline([sys.executable, "-c", code], tmp_path)
    assert result.returncode != 0 and "getaddrinfo example.org" in attempts


@pytest.mark.slow
def test_demo_runs_with_the_network_blocked(tmp_path):
    medmix = Path(sys.executable).with_name("medmix")
    # a relative run dir, as `make demo` passes it
    result, attempts = run_offline([str(medmix), "demo", "--run-dir", "demo"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert attempts == ""
    assert "07_decontaminate" in result.stdout and "08_phi" in result.stdout
    assert list((tmp_path / "demo" / "build" / "stages" / "08_phi" / "kept").glob("*.jsonl.gz"))


PRESIDIO_OFFLINE = """
from medmix.corpus.phi.presidio_offline import stock_analyzer
analyzer = stock_analyzer()
text = "Call Dr. John Smith at 617-555-0123 or john.smith@example.org, see https://example.org/chart."
found = sorted({r.entity_type for r in analyzer.analyze(text, language="en")})
print(",".join(found))
"""


@pytest.mark.slow
def test_presidio_runs_with_the_network_blocked(tmp_path):
    result, attempts = run_offline([sys.executable, "-c", PRESIDIO_OFFLINE], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert attempts == ""
    assert {"EMAIL_ADDRESS", "PERSON", "PHONE_NUMBER", "URL"} <= set(result.stdout.strip().split(","))


@pytest.mark.slow
def test_the_phi_scrubber_runs_with_the_network_blocked(tmp_path):
    notes = tmp_path / "notes.jsonl"
    notes.write_text(json.dumps({"id": "n1", "text": "Dr. Okafor e-mailed jane.doe@example.org from 10.0.0.7; "
                                                     "see https://chart.example.org/p/77. Daughter Ingrid called."}) + "\n")
    medmix = Path(sys.executable).with_name("medmix")
    result, attempts = run_offline([str(medmix), "scrub", "notes.jsonl", "scrubbed.jsonl"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert attempts == ""
    scrubbed = json.loads((tmp_path / "scrubbed.jsonl").read_text())
    assert scrubbed["text"] == "Dr. [NAME] e-mailed [EMAIL] from [IP]; see [URL]. Daughter [NAME] called."
