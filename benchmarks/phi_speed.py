"""Speed and recall of PHI detection: medmix's `PhiScrubber` against stock presidio, on the same clinical notes.

    python benchmarks/phi_speed.py [--notes 300] [--repeat 3] [--shared ../shared/data]

Why
- Issues 4 and 10 set the target: medmix's scrubber, learned tagger on, runs >= 40x faster than stock presidio (AnalyzerEngine
  with its default recognizers and spaCy en_core_web_sm), about 500 KB/s per core, and still meets the
  recall target. Stock presidio runs at about 20 KB/s per core, which would make PHI scrubbing the
  slowest stage of a corpus build. This machine is shared and noisy, so both engines run here in one
  process, on the same notes, and the ratio from the same run is the figure that counts.

What it measures
- Input: the notes of the cross-validation folds 1-4 of the PhysioNet deid dev set (1,195 of its 1,493
  nurses' notes; the frozen fold 0 is scored only by `medmix phi-eval --folds 0`), read from
  `shared/data/phi/physionet_deid_dev` (`id.text`, `id-phi.phrase`). Their recall figures are not a
  result: the bundled tagger was trained on these notes (see benchmarks/phi_quality.py for honest ones). Sizes are KB of UTF-8 (1 KB = 1000 bytes).
- One core: the process is pinned to one CPU (`os.sched_setaffinity`) and BLAS/OpenMP threads are set
  to 1 before any import, so wall time is close to CPU time. Both are shown: wall-clock KB/s
  (`time.perf_counter`) is the headline figure and the ratio; KB/s from `time.process_time` is a check.
- Loading (the spaCy model, the lexicons) is timed separately and never counted: each engine is built
  and then warmed up on one note before its timed runs.
- Stock presidio runs once over the first `--notes` notes (it is slow). medmix runs on the same notes
  and on all 1,493, best of `--repeat` passes each. The ratio is computed on the same notes.
- Recall: strict and lenient span recall and character precision (`medmix.corpus.phi.evaluate.score`)
  for both engines on the same notes, and for medmix on all notes. Stock presidio's finds are scored
  whatever their entity type.
- Long text: all notes joined into one text of more than 1.2 million characters, scrubbed by one
  `find` call. spaCy refuses texts over 1,000,000 characters; medmix cuts them into overlapping chunks.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "POLARS_MAX_THREADS", "RAYON_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DEV = Path("phi") / "physionet_deid_dev"
TARGET_RATIO = 40.0
TARGET_KBPS = 500.0
LONG_CHARS = 1_200_000


@dataclass
class Run:
    """One timed pass of an engine over some texts."""

    label: str
    texts: int
    kb: float
    wall: float
    cpu: float

    @property
    def kbps(self) -> float:
        return self.kb / self.wall

    @property
    def cpu_kbps(self) -> float:
        return self.kb / self.cpu if self.cpu > 0 else float("inf")


# ---------------------------------------------------------------------------------------------- setup

def pin_one_core() -> int:
    """Pin this process to the first CPU it may run on; returns that CPU."""
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def load_notes(shared: Path):
    from medmix.corpus.phi.gold import read_physionet

    folder = shared / DEV
    text_path, phrase_path = folder / "id.text", folder / "id-phi.phrase"
    if not (text_path.exists() and phrase_path.exists()):
        print(f"skipped: PhysioNet deid dev set not found at {folder} (need id.text and id-phi.phrase)")
        sys.exit(0)
    return read_physionet(text_path, phrase_path)


def kilobytes(texts: list[str]) -> float:
    return sum(len(text.encode("utf-8")) for text in texts) / 1e3


def long_text(notes) -> str:
    """All notes joined, repeated until the text is longer than LONG_CHARS characters."""
    one_pass = "\n\n".join(note.text for note in notes)
    copies = LONG_CHARS // (len(one_pass) + 2) + 1
    return "\n\n".join([one_pass] * copies)


# ---------------------------------------------------------------------------------------------- engines

def presidio_engine():
    """Stock presidio; returns `find(text) -> list[Span]` (every entity type presidio reports)."""
    from medmix.corpus.phi.presidio_offline import stock_analyzer
    from medmix.corpus.phi.spans import Span

    analyzer = stock_analyzer()

    def find(text: str) -> list[Span]:
        return [Span(r.start, r.end, r.entity_type) for r in analyzer.analyze(text=text, language="en")]

    return find


def medmix_engine():
    from medmix.corpus.phi.scrubber import PhiScrubber, ScrubberSettings

    return PhiScrubber(ScrubberSettings()).find


def rules_engine():
    """medmix without its learned tagger: what the tagger costs."""
    from medmix.corpus.phi.scrubber import PhiScrubber, ScrubberSettings

    return PhiScrubber(ScrubberSettings(tagger=False)).find


def build(make, warm_text: str) -> tuple[object, float, float]:
    """(find, seconds to build, seconds of the warm-up call on one note)."""
    start = time.perf_counter()
    find = make()
    built = time.perf_counter()
    find(warm_text)
    return find, built - start, time.perf_counter() - built


# ---------------------------------------------------------------------------------------------- timing

def timed_pass(find, notes, label: str) -> tuple[Run, dict]:
    """One pass of `find` over the notes: the timing and the predictions by note id."""
    predictions = {}
    wall, cpu = time.perf_counter(), time.process_time()
    for note in notes:
        predictions[note.id] = find(note.text)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return Run(label, len(notes), kilobytes([n.text for n in notes]), wall, cpu), predictions


def best_of(find, notes, label: str, repeat: int) -> tuple[Run, dict]:
    """The fastest (wall time) of `repeat` passes; the predictions are the same every pass."""
    runs = [timed_pass(find, notes, label) for _ in range(max(repeat, 1))]
    return min(runs, key=lambda pair: pair[0].wall)


def time_long_text(find, text: str, repeat: int) -> tuple[Run, int]:
    """Best of `repeat` single `find` calls on one long text; also the number of spans found."""
    best, spans = None, 0
    for _ in range(max(repeat, 1)):
        wall, cpu = time.perf_counter(), time.process_time()
        spans = len(find(text))
        run = Run("medmix, one long text", 1, kilobytes([text]), time.perf_counter() - wall, time.process_time() - cpu)
        best = run if best is None or run.wall < best.wall else best
    return best, spans


# ---------------------------------------------------------------------------------------------- report

def print_table(rows: list[tuple[Run, object]]) -> None:
    """One line per run: timing, then recall if it was scored."""
    print(f"  {'engine':<30}{'notes':>6}{'KB':>9}{'wall s':>9}{'KB/s':>9}{'cpu s':>9}{'KB/s cpu':>10}"
          f"{'alnum':>8}{'strict':>8}{'lenient':>8}{'char prec':>10}")
    for run, scores in rows:
        recall = (f"{scores.alnum_recall:>8.3f}{scores.strict_recall:>8.3f}{scores.lenient_recall:>8.3f}"
                  f"{scores.char_precision:>10.3f}" if scores is not None else f"{'-':>8}{'-':>8}{'-':>8}{'-':>10}")
        print(f"  {run.label:<30}{run.texts:>6}{run.kb:>9.1f}{run.wall:>9.2f}{run.kbps:>9.1f}{run.cpu:>9.2f}"
              f"{run.cpu_kbps:>10.1f}{recall}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notes", type=int, default=300,
                        help="how many PhysioNet notes stock presidio runs on (and medmix, for the ratio)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="timed medmix passes per measurement; the best (fastest) is reported")
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="the shared real data folder")
    args = parser.parse_args()

    from medmix.corpus.phi.folds import cross_validation_folds, split

    cpu = pin_one_core()
    notes = split(load_notes(args.shared.resolve()), cross_validation_folds())
    sample = notes[:args.notes]
    print(f"input: PhysioNet deid dev, folds 1-4, {len(notes)} notes, {kilobytes([n.text for n in notes]):.1f} KB UTF-8, "
          f"{sum(len(n.spans) for n in notes)} gold PHI spans; stock presidio on the first {len(sample)} notes "
          f"({kilobytes([n.text for n in sample]):.1f} KB, {sum(len(n.spans) for n in sample)} gold spans)")
    print(f"one core: pinned to CPU {cpu} (sched_setaffinity), OMP/MKL/OPENBLAS threads = 1; one process\n")

    from medmix.corpus.phi.evaluate import score

    presidio, p_load, p_warm = build(presidio_engine, notes[0].text)
    medmix, m_load, m_warm = build(medmix_engine, notes[0].text)
    rules, _, _ = build(rules_engine, notes[0].text)
    print(f"load, not timed below: stock presidio {p_load:.2f} s (+ warm-up note {p_warm:.2f} s), "
          f"medmix {m_load:.2f} s (+ warm-up note {m_warm:.2f} s)\n")

    p_run, p_pred = timed_pass(presidio, sample, "stock presidio")
    m_run, m_pred = best_of(medmix, sample, f"medmix (best of {args.repeat})", args.repeat)
    r_run, r_pred = best_of(rules, sample, f"medmix, no tagger (best of {args.repeat})", args.repeat)
    all_run, all_pred = best_of(medmix, notes, f"medmix, all notes (best of {args.repeat})", args.repeat)
    text = long_text(notes)
    long_run, long_spans = time_long_text(medmix, text, args.repeat)
    long_run.label = f"medmix, one text (best of {args.repeat})"

    print_table([(p_run, score(sample, p_pred)), (m_run, score(sample, m_pred)), (r_run, score(sample, r_pred)),
                 (all_run, score(notes, all_pred)), (long_run, None)])
    print(f"\n  long text: {len(text):,} characters in one `find` call ({long_spans} spans found): "
          f"{long_run.kbps:.1f} KB/s per core")
    print(f"  medmix per core, all notes: {all_run.kbps:.1f} KB/s (target: about {TARGET_KBPS:.0f} KB/s)")
    print(f"  ratio on process CPU time: {m_run.cpu_kbps / p_run.cpu_kbps:.1f}x")
    print(f"  without the tagger: {r_run.kbps / p_run.kbps:.1f}x presidio")
    print(f"ratio medmix/presidio: {m_run.kbps / p_run.kbps:.1f}x (target >= {TARGET_RATIO:.0f}x)")


if __name__ == "__main__":
    main()
