"""Cross-validated PHI quality: how the scrubber is expected to do on notes of patients it has never seen.

    python benchmarks/phi_quality.py [--shared ../shared/data] [--copies 2] [--synthetic 400] [--json OUT]

Why
- A figure measured on the notes that rules or a model were tuned on is not a result: the rules of
  issue 4 scored 0.951 strict recall on the development split and 0.84 on held-out notes.
- So the PhysioNet development split is dealt into five folds by patient (`medmix.corpus.phi.folds`).
  Fold 0 is frozen: it is never read, and scored once, by `medmix phi-eval --folds 0` with the shipped
  model (trained on folds 1-4). Folds 1-4 are the cross-validation folds: for each, a tagger is trained
  on the other three (augmented, exactly as `medmix phi-train` does) and the scrubber is scored on it.

What it prints
- Per detector set and threshold: alnum recall (every letter and digit of a gold span redacted),
  strict and lenient recall, character precision; per fold, then mean and standard deviation.
- Detector sets: the shape rules with the tagger; with the context rules too (the default); and the
  rules alone, the anchor. The rules were developed by reading the whole development split (issue 4),
  so their figures here are optimistic for every fold, including the frozen one; the tagger's are not.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
THRESHOLDS = (0.5, 0.3, 0.15)
METRICS = ("alnum_recall", "strict_recall", "lenient_recall", "char_precision")


def settings_grid(model: Path):
    from medmix.corpus.phi.scrubber import ScrubberSettings

    yield "rules alone (anchor)", ScrubberSettings(tagger=False)
    for threshold in THRESHOLDS:
        yield f"shapes + tagger @ {threshold}", ScrubberSettings(model=str(model), threshold=threshold,
                                                                 context_rules=False)
        yield f"shapes + context + tagger @ {threshold}", ScrubberSettings(model=str(model), threshold=threshold)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--copies", type=int, default=None, help="surrogate copies per note (default: phi-train's)")
    parser.add_argument("--synthetic", type=int, default=None, help="generated documents (default: phi-train's)")
    parser.add_argument("--params", type=json.loads, default=None, help="crfsuite parameters, as JSON")
    parser.add_argument("--json", type=Path, help="write every figure here")
    args = parser.parse_args()
    folder = args.shared / "phi" / "physionet_deid_dev"
    if not (folder / "id.text").is_file():
        print(f"skipped: PhysioNet development split not found in {folder}")
        return 0

    from medmix.corpus.phi.evaluate import score
    from medmix.corpus.phi.folds import assign_folds, cross_validation_folds, split
    from medmix.corpus.phi.gold import read_physionet
    from medmix.corpus.phi.scrubber import PhiScrubber
    from medmix.corpus.phi.tagger import COPIES, SYNTHETIC, train_on_gold

    notes = read_physionet(folder / "id.text", folder / "id-phi.phrase")
    fold_of = assign_folds(notes)
    folds = cross_validation_folds()
    figures: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for fold in folds:
            train = split(notes, [f for f in folds if f != fold], fold_of)
            test = split(notes, [fold], fold_of)
            started = time.perf_counter()
            model = train_on_gold(train, Path(scratch) / f"fold{fold}.crf", copies=args.copies or COPIES,
                                  synthetic=SYNTHETIC if args.synthetic is None else args.synthetic, seed=fold,
                                  params=args.params)
            print(f"fold {fold}: trained on {len(train)} notes in {time.perf_counter() - started:.0f} s; "
                  f"scoring {len(test)} notes", file=sys.stderr)
            for name, settings in settings_grid(model):
                scrubber = PhiScrubber(settings)
                result = score(test, {note.id: scrubber.find(note.text) for note in test}).summary()
                figures.setdefault(name, []).append(result)
                print(f"  fold {fold} {name:<38}" + " ".join(f"{result[m]:.3f}" for m in METRICS), file=sys.stderr)

    print(f"\nPhysioNet development split, cross-validation by patient over folds {folds} (frozen fold 0 not used)")
    print(f"{'detectors':<38} " + " ".join(f"{m:>22}" for m in METRICS))
    for name, rows in figures.items():
        cells = [f"{statistics.mean(r[m] for r in rows):.3f} ± {statistics.stdev(r[m] for r in rows):.3f}"
                 for m in METRICS]
        print(f"{name:<38} " + " ".join(f"{c:>22}" for c in cells))
    if args.json:
        args.json.write_text(json.dumps({"folds": folds, "figures": figures}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
