"""Patient folds of an annotated set: how every PHI figure medmix reports is kept honest.

A note's PHI repeats across that patient's notes (the same daughter, the same ward), so notes of one
patient never sit on both sides of a split. Patients are dealt to `FOLDS` folds, largest first, each
to the fold with the fewest notes so far; ties break by a hash of the patient id, so the split does not
depend on file order. Fold 0 is **frozen**: never read while rules and features are designed, scored once
at the end with a model trained on the other folds. Folds 1 to 4 are the cross-validation folds.
"""

from __future__ import annotations

import hashlib
from collections import Counter

from medmix.corpus.phi.gold import AnnotatedNote

FOLDS = 5
FROZEN = 0


def patient_of(note: AnnotatedNote) -> str:
    """PhysioNet note ids are `<patient>-<note>`."""
    return note.id.rsplit("-", 1)[0]


def assign_folds(notes: list[AnnotatedNote], folds: int = FOLDS) -> dict[str, int]:
    """Fold per patient, balanced by note count."""
    sizes = Counter(patient_of(note) for note in notes)
    order = sorted(sizes, key=lambda p: (-sizes[p], hashlib.sha256(p.encode()).hexdigest()))
    load = [0] * folds
    fold_of = {}
    for patient in order:
        fold = min(range(folds), key=lambda f: (load[f], f))
        fold_of[patient] = fold
        load[fold] += sizes[patient]
    return fold_of


def split(notes: list[AnnotatedNote], folds: list[int], fold_of: dict[str, int] | None = None) -> list[AnnotatedNote]:
    """The notes of the given folds."""
    fold_of = fold_of or assign_folds(notes)
    wanted = set(folds)
    return [note for note in notes if fold_of[patient_of(note)] in wanted]


def cross_validation_folds() -> list[int]:
    return [fold for fold in range(FOLDS) if fold != FROZEN]
