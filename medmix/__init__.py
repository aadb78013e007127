"""medmix: rebuild the Me-LLaMA continual pre-training corpus and train on it."""

from pathlib import Path

__version__ = "0.1.0"

# In the source tree, medmix.corpus, medmix.tokenize and medmix.train live beside this folder
# (pyproject's package-dir). When Python starts in the repo root (`python -m ...`, `torchrun -m ...`),
# this folder is imported instead of the installed package, so let it find its siblings too.
_source_root = Path(__file__).resolve().parent.parent
if (_source_root / "pyproject.toml").is_file() and (_source_root / "corpus").is_dir():
    __path__.append(str(_source_root))
