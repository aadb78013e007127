"""medmix: rebuild the Me-LLaMA continual pre-training corpus and train on it."""

import importlib.abc
import importlib.machinery
import sys
from pathlib import Path

__version__ = "0.1.0"

# corpus/, tokenize/, train/ and recipes/ sit beside this folder in the source tree and import as medmix.*
# (pyproject's package-dir). Where this folder is imported straight from a checkout (Python started in the
# repo root, or a plain `pip install -e .`), these four names, and no other folder of the checkout, are
# found in their folders. An installed wheel has them inside medmix/ and needs none of this.
_SOURCE_ROOT = Path(__file__).resolve().parent.parent
_MAPPED = {f"{__name__}.{folder}" for folder in ("corpus", "tokenize", "train", "recipes")}


class _SourceTreeFinder(importlib.abc.MetaPathFinder):
    """Finds medmix.corpus, medmix.tokenize, medmix.train and medmix.recipes in the checkout's folders."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname in _MAPPED:
            return importlib.machinery.PathFinder.find_spec(fullname, [str(_SOURCE_ROOT)])
        return None


if (_SOURCE_ROOT / "pyproject.toml").is_file() and not any(isinstance(f, _SourceTreeFinder) for f in sys.meta_path):
    sys.meta_path.append(_SourceTreeFinder())
