"""Where datatrove's task logs go while medmix draws progress bars: a file, not the terminal.

A module of its own, importing nothing heavy, so that benchmarks can use it without every task
process they spawn importing the cleaning stack (presidio, spaCy) through `medmix.corpus.build`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def stderr_to(path: Path) -> Iterator[None]:
    """Send this process's and its workers' stderr (datatrove's task logs) to a file while progress bars draw."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "a") as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
