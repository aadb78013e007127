"""The repo layout must not break Python for anyone who starts it in the repo root."""

import subprocess
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_in_repo_root(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_import_tokenize_in_repo_root_is_the_standard_library():
    origin = run_in_repo_root("import tokenize; print(tokenize.__file__)")
    assert Path(origin).parent == Path(sysconfig.get_paths()["stdlib"])
    assert not (REPO / "tokenize" / "__init__.py").exists()


def test_medmix_subpackages_import_from_the_repo_root():
    # `python -m medmix...` started in the repo root imports ./medmix, which must still find its siblings
    out = run_in_repo_root("import medmix.corpus.build, medmix.tokenize, medmix.train; print('ok')")
    assert out == "ok"


def test_only_the_mapped_folders_import_as_medmix_subpackages():
    # the checkout's other folders (tests, build, docs) must not become medmix.tests, medmix.build, ...
    out = run_in_repo_root(
        "import importlib.util as u; print([n for n in ('medmix.tests', 'medmix.build', 'medmix.docs', 'medmix.corpus',"
        " 'medmix.tokenize', 'medmix.train', 'medmix.recipes') if u.find_spec(n)])")
    assert out == "['medmix.corpus', 'medmix.tokenize', 'medmix.train', 'medmix.recipes']"
