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
