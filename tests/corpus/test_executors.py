"""Local phases fork their tasks from a fork server that has imported what the tasks import
(`medmix.corpus.executors.preload_task_modules`); a module that fails to import there must not stop the build."""

import json
import os
import subprocess
import sys

SCRIPT = '''
import json
import sys
from pathlib import Path

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.base import PipelineStep

from medmix.corpus.executors import preload_task_modules


class Probe(PipelineStep):
    """Records which of its task imports its task process already holds when it starts."""

    task_imports = ("email.mime.text", "medmix_test_broken_import")

    def __init__(self, out):
        super().__init__()
        self.out = out

    def run(self, data=None, rank=0, world_size=1):
        Path(self.out, f"{rank}.json").write_text(json.dumps({"preloaded": "email.mime.text" in sys.modules}))
        return ()


if __name__ == "__main__":
    out = sys.argv[1]
    preload_task_modules([Probe(out)])
    LocalPipelineExecutor([Probe(out)], tasks=2, workers=2, logging_dir=f"{out}/logs").run()
'''


def test_tasks_start_with_their_imports_done_and_a_failing_one_does_not_stop_them(tmp_path):
    (tmp_path / "medmix_test_broken_import.py").write_text("raise RuntimeError('a broken install')\n")
    (tmp_path / "probe.py").write_text(SCRIPT)
    environment = os.environ | {"PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    subprocess.run([sys.executable, str(tmp_path / "probe.py"), str(tmp_path)], env=environment, check=True,
                   capture_output=True, timeout=120)
    reports = [json.loads((tmp_path / f"{rank}.json").read_text()) for rank in range(2)]
    assert reports == [{"preloaded": True}] * 2


LOSING_SCRIPT = '''
import os
import signal
import sys
import time
from pathlib import Path

from datatrove.pipeline.base import PipelineStep

from medmix.corpus.executors import LostTask, make_executor, watch_completions
from medmix.corpus.recipe import LocalExecutor
from medmix.corpus.stages.base import Phase


class KilledOnRankOne(PipelineStep):
    """Task 1's process is killed, as the kernel kills one for lack of memory; task 0 finishes."""

    def run(self, data=None, rank=0, world_size=1):
        if rank == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        return ()


if __name__ == "__main__":
    phase = Phase("killed", [KilledOnRankOne()], Path(sys.argv[1]))
    executor = make_executor(LocalExecutor(kind="local", tasks=2, workers=2), phase, "killed", None)
    started = time.monotonic()
    try:
        with watch_completions(phase, lambda done: None):
            executor.run()
    except LostTask as error:
        print(f"{error} after {time.monotonic() - started:.0f} s")
'''


def test_a_task_process_killed_mid_phase_stops_the_phase_instead_of_hanging_it(tmp_path):
    """datatrove's pool waits forever for the result of a task whose process died; medmix notices the process is gone."""
    (tmp_path / "killed.py").write_text(LOSING_SCRIPT)
    done = subprocess.run([sys.executable, str(tmp_path / "killed.py"), str(tmp_path / "logs")], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("the process of task 1 ended before its task did"), done.stdout
    assert (tmp_path / "logs" / "completions" / "00000").exists()  # task 0 finished, and resuming skips it
