"""Speed and memory of dedup: medmix's `DedupSignatures` against datatrove's `MinhashDedupSignature`, and
medmix's whole dedup (phases 1-5) against datatrove's whole MinHash pipeline.

    python benchmarks/dedup_speed.py [--shared ../shared/data] [--mb 8] [--mem-docs 5000] [--repeat 2]

What it measures
- Throughput. One input set of real text (PMC full texts, mtsamples transcriptions and WikiText articles,
  interleaved and repeated until `--mb` megabytes of UTF-8), built once and fed to both steps in this
  process, on one core (BLAS/OpenMP/Arrow threads pinned to 1). Each step is timed with `time.perf_counter`
  over its whole `run`, hashing and writing included (datatrove: its signature files; medmix, phase 1 of
  its dedup: per-band (band key, document key) files, the exact-hash "band" and the document table under
  work_dir/bands and work_dir/docs, checked after the run); reading and parsing the inputs is not timed.
  Prints MB/s per core for each and the ratio medmix / datatrove (issue 13: >= 30x, moonshot >= 50x).
- Whole pipelines, same input, one task each, in this process: datatrove's four MinHash steps
  (`MinhashDedupSignature`, `MinhashDedupBuckets` over its 14 buckets, `MinhashDedupCluster`,
  `MinhashDedupFilter`, default config) against medmix's five phases (signatures, buckets, verify, clusters,
  filter), each timed per step (target: >= 10x). The input repeats its texts, so it is full of exact and
  near duplicates: both have more to cluster, and medmix's phases 3 and 4 more to check, than on a
  typical corpus.
- The machine is shared: the four runs go in rounds (`--repeat`), datatrove and medmix alternating, and
  each one's fastest round counts.
- Memory. medmix's step runs on N and on 4N documents (~1 KB chunks of the same real texts, generated
  lazily) in two fresh child processes (multiprocessing, 'spawn'), started before the parent loads the
  timed input (a child's ru_maxrss starts from the parent's RSS at fork); each child reports its peak
  RSS (`resource.getrusage(RUSAGE_SELF).ru_maxrss`), and its peak before the step started (imports,
  reading the texts). The step streams to disk in batches of at most 1024 documents, so the peak should not
  grow with the number of documents once past one batch (N defaults to 10000).

Notes
- datatrove 0.10.1 hashes n-grams with `xxhash.xxh64_intdigest(str)`, which xxhash >= 4 rejects
  ("Strings must be encoded before hashing"); the anchor gets the same hash on the UTF-8 bytes instead.
- `datatrove.pipeline.dedup/__init__.py` imports the exact-substring steps, which need `tokenizers`
  (not installed here); the MinHash module is imported without that package initialiser.
- Both steps see the same repeated texts. medmix caches word hashes per process: its cache is cleared
  before timing, and the first (unrepeated) copy of the texts is also timed alone as a cold-cache check.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "POLARS_MAX_THREADS", "RAYON_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import csv  # noqa: E402
import glob  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402,F401  (imported after the thread settings on purpose)
from interleave import interleaved  # noqa: E402  (benchmarks/interleave.py)

SCRATCH = Path("/tmp/bench")
DEFAULT_SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
TARGET_SIGNATURES, MOONSHOT_SIGNATURES, TARGET_PIPELINE = 30.0, 50.0, 10.0
SETTINGS = dict(tasks=1, threshold=0.8, ngram=5, num_perm=128, priority=["pmc", "mtsamples", "wikitext"],
                containment=False, containment_threshold=0.8, sample_size=64)


# ---------------------------------------------------------------------------------------------- inputs

def check_shared(shared: Path) -> None:
    needed = [shared / "clinical" / "mtsamples_first401_noheader.csv",
              shared / "general" / "wikitext2_valid_test_articles.jsonl"]
    if not shared.is_dir() or not glob.glob(str(shared / "pmc" / "*.nxml")) or not all(p.exists() for p in needed):
        sys.exit(f"shared data not found at {shared} (need pmc/*.nxml, clinical/mtsamples_first401_noheader.csv "
                 f"and general/wikitext2_valid_test_articles.jsonl); pass --shared PATH")


def real_texts(shared: Path) -> dict[str, list[str]]:
    """The real texts per source, in file order."""
    from medmix.corpus.readers.pmc import PmcReader

    files = sorted(glob.glob(str(shared / "pmc" / "*.nxml")))
    with tempfile.TemporaryDirectory(dir=SCRATCH) as books:
        reader = PmcReader(books, "read", source="pmc", domain="biomedical", files=files)
        pmc = [doc.text for doc in reader.run(None, 0, 1) if doc.text.strip()]
    with open(shared / "clinical" / "mtsamples_first401_noheader.csv", newline="", encoding="utf-8") as handle:
        clinical = [row[4] for row in csv.reader(handle) if len(row) > 4 and row[4].strip()]
    with open(shared / "general" / "wikitext2_valid_test_articles.jsonl", encoding="utf-8") as handle:
        wiki = [t for t in (json.loads(line)["text"] for line in handle if line.strip()) if t.strip()]
    return {"pmc": pmc, "mtsamples": clinical, "wikitext": wiki}


def make_documents(pool: list[tuple[str, str]], megabytes: float):
    """Documents cycling over `pool` until `megabytes` of UTF-8 text; returns (docs, MB, MB of one pass)."""
    from datatrove.data import Document

    docs, size, limit = [], 0, int(megabytes * 1e6)
    one_pass = sum(len(text.encode("utf-8")) for _, text in pool)
    while size < limit:
        for source, text in pool:
            docs.append(Document(text=text, id=f"{source}-{len(docs)}", metadata={"source": source, "text_type": ""}))
            size += len(text.encode("utf-8"))
            if size >= limit:
                break
    return docs, size / 1e6, one_pass / 1e6


def chunks(pool: list[tuple[str, str]], chars: int = 1000) -> list[tuple[str, str]]:
    out = []
    for source, text in pool:
        for start in range(0, len(text), chars):
            if piece := text[start:start + chars].strip():
                out.append((source, piece))
    return out


# ---------------------------------------------------------------------------------------------- steps

def import_datatrove_minhash():
    """datatrove's MinHash step, without `datatrove.pipeline.dedup.__init__` (it needs `tokenizers`)."""
    try:
        from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
    except ModuleNotFoundError:
        import datatrove.pipeline

        package = types.ModuleType("datatrove.pipeline.dedup")
        package.__path__ = [str(Path(datatrove.pipeline.__file__).parent / "dedup")]
        sys.modules["datatrove.pipeline.dedup"] = package
        from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
    return MinhashDedupSignature, MinhashConfig


def datatrove_step(folder: Path):
    import xxhash

    MinhashDedupSignature, MinhashConfig = import_datatrove_minhash()
    step = MinhashDedupSignature(output_folder=str(folder), config=MinhashConfig())
    try:
        step._hash_func("probe")
    except TypeError:  # xxhash >= 4 refuses str: hash the UTF-8 bytes, the same value xxhash 3 gave
        precision = step.config.hash_config.precision
        digest = xxhash.xxh64_intdigest if precision == 64 else xxhash.xxh32_intdigest
        step._hash_func = lambda text: digest(text.encode("utf-8"))
    step.get_shingles("warm up the word tokenizer before timing anything here")
    return step


def medmix_settings(work_dir: Path):
    from medmix.corpus.minhash import lsh_bands
    from medmix.corpus.stages.dedup import DedupSettings

    bands, rows = lsh_bands(SETTINGS["threshold"], SETTINGS["num_perm"])
    return DedupSettings(work_dir, SETTINGS["tasks"], SETTINGS["threshold"], SETTINGS["ngram"], SETTINGS["num_perm"],
                         bands, rows, SETTINGS["priority"], SETTINGS["containment"],
                         SETTINGS["containment_threshold"], SETTINGS["sample_size"])


def fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    return folder


def time_medmix(docs, work_dir: Path) -> float:
    from medmix.corpus import minhash
    from medmix.corpus.stages.dedup import DedupSignatures

    minhash._word_hashes.clear()  # cold word-hash cache
    step = DedupSignatures(medmix_settings(fresh(work_dir)))
    start = time.perf_counter()
    for _ in step.run(iter(docs), 0, 1):
        pass
    return time.perf_counter() - start


def check_phase1(work_dir: Path, documents: int) -> None:
    """Phase 1 wrote one row per document to its table and one (band key, document key) pair per document
    to the exact-hash band (the near bands skip documents without words)."""
    from medmix.corpus.stages.dedup import EXACT

    rows = pq_rows(work_dir / "docs" / "00000.parquet")
    pairs = (work_dir / "bands" / EXACT / "00000.bin").stat().st_size // 16
    if rows != documents or pairs != documents:
        sys.exit(f"medmix phase 1 output is incomplete: {rows} table rows, {pairs} exact-band pairs, {documents} documents")


def time_medmix_dedup(docs, work_dir: Path) -> dict[str, float]:
    """medmix's phases 1-5 in this process, one task (as tests/corpus/test_dedup.py runs them); seconds per phase."""
    from medmix.corpus import minhash
    from medmix.corpus.stages.dedup import DedupBuckets, DedupClusters, DedupFilter, DedupSignatures, DedupVerify

    minhash._word_hashes.clear()
    settings = medmix_settings(fresh(work_dir))
    seconds = {}
    for name, step, data in (("signatures", DedupSignatures, docs), ("buckets", DedupBuckets, None),
                             ("verify", DedupVerify, docs), ("clusters", DedupClusters, None),
                             ("filter", lambda s: DedupFilter(work_dir / "stage", "dedup", s), docs)):
        start = time.perf_counter()
        for _ in step(settings).run(data and iter(data), 0, 1):
            pass
        seconds[name] = time.perf_counter() - start
    return seconds


def drain(result) -> None:
    """datatrove's steps are plain functions in some versions, generators in others."""
    if isinstance(result, types.GeneratorType):
        for _ in result:
            pass


def time_datatrove(docs, folder: Path) -> float:
    step = datatrove_step(fresh(folder))
    start = time.perf_counter()
    drain(step.run(iter(docs), 0, 1))
    return time.perf_counter() - start


def time_datatrove_pipeline(docs, folder: Path) -> dict[str, float]:
    """datatrove's four MinHash steps, one task each (the buckets step: one task per bucket, in turn)."""
    from datatrove.pipeline.dedup.minhash import MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter

    seconds = {"signatures": time_datatrove(docs, folder / "signatures")}
    config = datatrove_step(folder / "probe").config
    buckets = MinhashDedupBuckets(str(folder / "signatures"), str(folder / "buckets"), config=config)
    start = time.perf_counter()
    for bucket in range(config.num_buckets):
        drain(buckets.run(None, bucket, config.num_buckets))
    seconds["buckets"] = time.perf_counter() - start
    start = time.perf_counter()
    drain(MinhashDedupCluster(str(folder / "buckets"), str(folder / "remove_ids"), config=config).run(None, 0, 1))
    seconds["cluster"] = time.perf_counter() - start
    start = time.perf_counter()
    kept = sum(1 for _ in MinhashDedupFilter(str(folder / "remove_ids")).run(iter(docs), 0, 1))
    seconds["filter"] = time.perf_counter() - start
    seconds["kept"] = kept
    return seconds


# ---------------------------------------------------------------------------------------------- memory child

def memory_child(shared: str, documents: int, work_dir: str) -> dict:
    """Runs in a fresh spawned process: medmix's step over `documents` ~1 KB documents, generated lazily."""
    from datatrove.data import Document

    from medmix.corpus import minhash
    from medmix.corpus.stages.dedup import DedupSignatures

    pool = chunks(interleaved(real_texts(Path(shared))))
    step = DedupSignatures(medmix_settings(fresh(Path(work_dir))))

    def stream():
        for index in range(documents):
            source, text = pool[index % len(pool)]
            yield Document(text=text, id=f"{source}-{index}", metadata={"source": source, "text_type": ""})

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    for _ in step.run(stream(), 0, 1):
        pass
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB -> MiB
    mb = sum(len(pool[i % len(pool)][1].encode("utf-8")) for i in range(documents)) / 1e6
    shutil.rmtree(work_dir, ignore_errors=True)
    return {"documents": documents, "mb": mb, "seconds": seconds, "rss_before": before, "rss_peak": peak,
            "word_cache": len(minhash._word_hashes)}


def pq_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.read_metadata(path).num_rows


def run_child(shared: Path, documents: int, work_dir: Path) -> dict:
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as executor:
        return executor.submit(memory_child, str(shared), documents, str(work_dir)).result()


# ---------------------------------------------------------------------------------------------- main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="the shared real data folder")
    parser.add_argument("--mb", type=float, default=8.0, help="input size for the timed runs, MB of UTF-8 text")
    parser.add_argument("--mem-docs", type=int, default=10000,
                        help="N for the memory check (runs N and 4N documents of ~1 KB)")
    parser.add_argument("--repeat", type=int, default=2, help="rounds of the timed runs; each one's best counts")
    args = parser.parse_args()
    shared = args.shared.resolve()
    check_shared(shared)
    SCRATCH.mkdir(parents=True, exist_ok=True)
    from datatrove.utils.logging import logger

    logger.disable("datatrove")  # its INFO lines ("Sorting buckets...") would interleave with the report

    # Memory children first: on Linux a child's ru_maxrss starts from its parent's RSS at fork time (it
    # survives the exec of 'spawn'), so they must start before this process holds the timed input.
    small = run_child(shared, args.mem_docs, SCRATCH / "mem_small")
    large = run_child(shared, 4 * args.mem_docs, SCRATCH / "mem_large")

    texts = real_texts(shared)
    pool = interleaved(texts)
    docs, mb, one_pass_mb = make_documents(pool, args.mb)
    counts = ", ".join(f"{len(items)} {name}" for name, items in texts.items())
    print(f"input: {len(docs)} documents, {mb:.2f} MB UTF-8 (real texts: {counts}; {one_pass_mb:.2f} MB per pass, "
          f"repeated {mb / one_pass_mb:.2f}x)")
    print("single core: OMP/MKL/OPENBLAS threads = 1; one process; same documents for both steps\n")

    best: dict[str, object] = {}
    for _ in range(max(args.repeat, 1)):  # rounds, datatrove and medmix alternating; each one's fastest counts
        for name, run in (("dt", lambda: time_datatrove(docs, SCRATCH / "dt_sigs")),
                          ("mm", lambda: time_medmix(docs, SCRATCH / "medmix_sigs")),
                          ("dt_all", lambda: time_datatrove_pipeline(docs, fresh(SCRATCH / "dt_all"))),
                          ("mm_all", lambda: time_medmix_dedup(docs, SCRATCH / "medmix_dedup"))):
            result = run()
            total = result if isinstance(result, float) else sum(v for k, v in result.items() if k != "kept")
            if name not in best or total < best[name][0]:
                best[name] = (total, result)
    dt_seconds, mm_seconds = best["dt"][0], best["mm"][0]
    check_phase1(SCRATCH / "medmix_sigs", len(docs))
    print(f"datatrove MinhashDedupSignature : {dt_seconds:7.2f} s  {mb / dt_seconds:7.2f} MB/s per core")
    print(f"medmix DedupSignatures          : {mm_seconds:7.2f} s  {mb / mm_seconds:7.2f} MB/s per core")
    first = make_documents(pool, one_pass_mb)[0]
    cold_seconds = time_medmix(first, SCRATCH / "medmix_sigs")
    check_phase1(SCRATCH / "medmix_sigs", len(first))
    print(f"medmix, one unrepeated pass     : {cold_seconds:7.2f} s  {one_pass_mb / cold_seconds:7.2f} MB/s per core "
          f"({len(first)} documents, {one_pass_mb:.2f} MB, cold word cache)")
    ratio = dt_seconds / mm_seconds
    cold_ratio = (one_pass_mb / cold_seconds) / (mb / dt_seconds)
    verdict = "PASS" if ratio >= TARGET_SIGNATURES else "FAIL"
    print(f"ratio medmix / datatrove        : {ratio:7.1f}x   (unrepeated pass: {cold_ratio:.1f}x)   "
          f"target >= {TARGET_SIGNATURES:.0f}x {verdict}, moonshot >= {MOONSHOT_SIGNATURES:.0f}x "
          f"{'PASS' if ratio >= MOONSHOT_SIGNATURES else 'FAIL'}")
    (dt_full, dt_steps), (full, phases) = best["dt_all"], best["mm_all"]
    removed = pq_rows(SCRATCH / "medmix_dedup" / "removals.parquet")
    print(f"\ndatatrove MinHash pipeline, 4 steps: {dt_full:.2f} s  {mb / dt_full:.2f} MB/s per core "
          f"({', '.join(f'{k} {v:.2f} s' for k, v in dt_steps.items() if k != 'kept')}; "
          f"{len(docs) - dt_steps['kept']} of {len(docs)} documents removed)")
    print(f"medmix dedup, phases 1-5          : {full:.2f} s  {mb / full:.2f} MB/s per core "
          f"({', '.join(f'{k} {v:.2f} s' for k, v in phases.items())}; {removed} of {len(docs)} documents removed)")
    full_ratio = dt_full / full
    print(f"ratio medmix / datatrove, whole dedup: {full_ratio:.1f}x   target >= {TARGET_PIPELINE:.0f}x "
          f"{'PASS' if full_ratio >= TARGET_PIPELINE else 'FAIL'}")
    for folder in ("dt_sigs", "dt_all", "medmix_sigs", "medmix_dedup"):
        shutil.rmtree(SCRATCH / folder, ignore_errors=True)

    print("\nmemory of medmix DedupSignatures, fresh spawned child per run (~1 KB documents, streamed):")
    for label, r in (("N", small), ("4N", large)):
        print(f"  {label:<2} = {r['documents']:>6} docs, {r['mb']:6.2f} MB: peak RSS {r['rss_peak']:7.1f} MB "
              f"(before the step {r['rss_before']:7.1f} MB), {r['seconds']:.1f} s, word cache {r['word_cache']} words")
    growth = large["rss_peak"] - small["rss_peak"]
    print(f"  peak RSS increase N -> 4N: {growth:+.1f} MB ({growth / small['rss_peak']:+.1%})")

    print("\nsummary")
    print(f"  {'measure':<36}{'datatrove':>12}{'medmix':>12}")
    print(f"  {'MB/s per core (' + format(mb, '.2f') + ' MB, same input)':<36}{mb / dt_seconds:>12.2f}{mb / mm_seconds:>12.2f}")
    print(f"  {'signature step, medmix/datatrove':<36}{'':>12}{ratio:>11.1f}x   target >= "
          f"{TARGET_SIGNATURES:.0f}x: {verdict}")
    print(f"  {'whole dedup, medmix/datatrove':<36}{'':>12}{full_ratio:>11.1f}x   target >= "
          f"{TARGET_PIPELINE:.0f}x: {'PASS' if full_ratio >= TARGET_PIPELINE else 'FAIL'}")
    print(f"  {'peak RSS, N=' + str(small['documents']) + ' docs (MB)':<36}{'':>12}{small['rss_peak']:>12.1f}")
    print(f"  {'peak RSS, 4N=' + str(large['documents']) + ' docs (MB)':<36}{'':>12}{large['rss_peak']:>12.1f}")
    print(f"  {'peak RSS increase N -> 4N (MB)':<36}{'':>12}{growth:>+12.1f}")
    print(f"  {'whole dedup (MB/s per core)':<36}{mb / dt_full:>12.2f}{mb / full:>12.2f}")


if __name__ == "__main__":
    main()
