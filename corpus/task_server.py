"""Imported by the fork server that local phases fork their task processes from, before it forks any (see
`medmix.corpus.executors.preload_task_modules`): it imports the modules named in MEDMIX_TASK_IMPORTS, each on its own.

The fork server skips a module of its own preload list that raises ImportError, but stops at any other error, and
every local phase then fails with an EOFError that says nothing. Imported here, a module that fails (a broken torch
install raises OSError) is left to the tasks that need it, which import it, and fail, with its own message.
"""

import importlib
import os

for _name in filter(None, os.environ.get("MEDMIX_TASK_IMPORTS", "").split(",")):
    try:
        importlib.import_module(_name)
    except Exception:  # noqa: BLE001, S110 - see the module docstring
        pass
