"""`medmix eval` against lm-evaluation-harness: the same few-shot examples, per-option log-likelihoods and
accuracies on a tiny random LLaMA and 50 generated items, zero- and few-shot, lm-eval running offline on local JSON
files with its own medqa_4options and pubmedqa task definitions."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from medmix.benchmarks import BenchmarkItem, BenchmarkSet
from medmix.tokenize.tokenizer import Tokenizer
from medmix.train.config import TrainConfigError, load_train_config
from medmix.train.evaluate import (
    BATCH_TOKENS,
    FEWSHOT_SEED,
    EvalError,
    context,
    evaluate,
    fewshot_examples,
    parse_benchmark,
    prompt,
    read_items,
    requests,
    score,
    write_results,
)
from medmix.train.loop import train
from medmix.train.model import hf_tokenizer_files, load_hf

WORDS = "the patient was seen today with chest pain and shortness of breath after surgery".split()
GUARD = Path(__file__).resolve().parents[1] / "offline"  # sitecustomize.py: internet sockets refuse
SHOTS = 2

LM_EVAL = """
import json, sys
from pathlib import Path
from lm_eval import simple_evaluate
from lm_eval.tasks import TaskManager

folder, tasks, out = sys.argv[1:]
results = simple_evaluate(model="hf", model_args=f"pretrained={folder},dtype=float32", device="cpu",
                          tasks=sorted(path.stem for path in Path(tasks).glob("*.yaml")),
                          task_manager=TaskManager(include_path=tasks, include_defaults=False),
                          batch_size=16, log_samples=True)
samples = {task: {str(s["doc_id"]): {"context": s["arguments"][0][0],
                                     "loglikelihoods": [float(r[0]) for r in s["filtered_resps"]]} for s in rows}
           for task, rows in results["samples"].items()}
metrics = {task: {k: v for k, v in values.items() if isinstance(v, float)} for task, values in results["results"].items()}
json.dump({"samples": samples, "metrics": metrics}, open(out, "w"))
"""


def write_tasks(folder: Path, paths: dict) -> Path:
    """Task configs that include lm-eval's own definitions (prompt, choices, target) over the local files, each
    zero-shot (`parity_medqa_0shot`) and few-shot. The test file is named the few-shot split too: lm-eval leaves
    an item out of its own examples only then (with no split named it falls back to the test docs and may show
    an item its own answer); medmix always leaves it out."""
    import lm_eval

    tasks = Path(lm_eval.__file__).parent / "tasks"
    folder.mkdir(parents=True, exist_ok=True)
    for name, included in (("medqa", tasks / "medqa" / "medqa.yaml"), ("pubmedqa", tasks / "pubmedqa" / "pubmedqa.yaml")):
        for shots in (0, SHOTS):
            (folder / f"parity_{name}_{shots}shot.yaml").write_text(
                f"include: {included}\ntask: parity_{name}_{shots}shot\ndataset_path: json\ndataset_name: null\n"
                f"dataset_kwargs:\n  data_files:\n    test: {paths[name][1]}\n"
                "training_split: null\nvalidation_split: null\ntest_split: test\nfewshot_split: test\n"
                f"num_fewshot: {shots}\n"
                "metric_list:\n  - {metric: acc, aggregation: mean, higher_is_better: true}\n"
                "  - {metric: acc_norm, aggregation: mean, higher_is_better: true}\n")
    return folder


def tiny_random_llama(folder: Path, tokenizer: Path) -> Path:
    """A random 2-layer LLaMA saved by transformers, with the small tokenizer; weights scaled up from the usual
    0.02 so that options differ by more than rounding."""
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.LlamaConfig(vocab_size=300, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                                      initializer_range=0.3, bos_token_id=1, eos_token_id=2)
    transformers.LlamaForCausalLM(config).save_pretrained(folder)
    for name, content in hf_tokenizer_files(tokenizer, bos_id=1, eos_id=2).items():
        (folder / name).write_bytes(content)
    return folder


@pytest.mark.slow
def test_log_likelihoods_and_accuracies_equal_lm_evaluation_harness(tmp_path, small_tokenizer, benchmark_items):
    pytest.importorskip("lm_eval")
    model = tiny_random_llama(tmp_path / "model", small_tokenizer)
    paths = benchmark_items(tmp_path / "items", 25)
    env = {**os.environ, "PYTHONPATH": str(GUARD), "MEDMIX_NETWORK_LOG": str(tmp_path / "network.log"),
           "HF_HOME": str(tmp_path / "hf_home"), "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1",
           "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    lm_eval = subprocess.run([sys.executable, "-c", LM_EVAL, str(model), str(write_tasks(tmp_path / "tasks", paths)),
                              str(tmp_path / "lm_eval.json")], env=env, capture_output=True, text=True, timeout=300)
    assert lm_eval.returncode == 0, lm_eval.stderr[-3000:]
    assert not (tmp_path / "network.log").exists()  # fully offline
    reference = json.loads((tmp_path / "lm_eval.json").read_text())

    benchmarks = [parse_benchmark(f"medqa={paths['medqa'][0]}:mcq_jsonl"),
                  parse_benchmark(f"pubmedqa={paths['pubmedqa'][0]}:pubmedqa")]
    summaries = {}
    for shots, batch_tokens in ((0, 600), (SHOTS, BATCH_TOKENS)):  # several batches of items either way
        records, summaries[shots] = evaluate(model, benchmarks, shots=shots, batch_tokens=batch_tokens)
        assert len(records) == 50
        for benchmark in benchmarks:
            name, task = benchmark.name, f"parity_{benchmark.name}_{shots}shot"
            items = read_items(benchmark)
            contexts = [context(benchmark, item, examples)
                        for item, examples in zip(items, fewshot_examples(benchmark, items, None, shots))]
            theirs = [reference["samples"][task][str(doc_id)] for doc_id in range(len(items))]
            assert contexts == [sample["context"] for sample in theirs]  # the same examples, in the same text
            assert all(text.count(prompt(benchmark, item)) == 1 for text, item in zip(contexts, items))  # not its own
            ours = [r for r in records if r["benchmark"] == name]
            for record, sample in zip(ours, theirs, strict=True):
                assert list(record["loglikelihoods"].values()) == pytest.approx(sample["loglikelihoods"], abs=1e-4,
                                                                                rel=0)
            metrics = reference["metrics"][task]
            for metric in ("acc", "acc_norm", "acc_stderr", "acc_norm_stderr"):
                assert summaries[shots][name][metric] == pytest.approx(metrics[f"{metric},none"], abs=1e-12), \
                    (task, metric)
        gaps = [np.diff(sorted(r["loglikelihoods"].values())).min() for r in records]
        assert min(gaps) > 1e-3  # no near-tie that rounding could flip: the accuracies compare exactly
    assert summaries[0]["pubmedqa"]["acc"] != summaries[0]["pubmedqa"]["acc_norm"]  # yes / no / maybe: lengths matter
    pubmedqa = requests(benchmarks[1], read_items(benchmarks[1]), Tokenizer(small_tokenizer), 1, 512, shots=SHOTS)
    assert any(len(request.contexts) > 1 for request in pubmedqa)  # some cut to fit 512 tokens, per option as lm-eval

    out = write_results(records, summaries[SHOTS], tmp_path / "eval" / "scores.jsonl")
    assert json.loads(out.read_text()) == summaries[SHOTS] and summaries[SHOTS]["medqa"]["shots"] == SHOTS
    first = json.loads((tmp_path / "eval" / "scores.jsonl").read_text().splitlines()[0])
    assert set(first) == {"benchmark", "id", "loglikelihoods", "prediction", "prediction_norm", "gold"}
    assert first["id"] == "q0" and set(first["loglikelihoods"]) == {"A", "B", "C", "D"}


def test_fewshot_examples_are_those_lm_evaluation_harness_draws():
    """lm-eval's own sampler, seeded as simple_evaluate seeds it and called item by item as its tasks call it, on
    a pool of copies (same id and question: never shown, and the draw is redone when they leave too few) and twins
    (same question, another id: lm-eval compares whole documents, so a twin may be shown)."""
    samplers = pytest.importorskip("lm_eval.api.samplers")
    benchmark = BenchmarkSet(name="m", format="mcq_jsonl", path="unused")
    # items n and n + 12 are copies, n and n + 6 twins; at 3 shots one draw is redone
    items = [BenchmarkItem("m", f"q{n % 12}", f"question {n % 6}?", {"A": "yes", "B": "no"}, "A") for n in range(18)]
    for shots in (1, 2, 3):
        sampler = samplers.ContextSampler(items, rnd=FEWSHOT_SEED)
        ours = fewshot_examples(benchmark, items, None, shots)
        assert ours == [list(sampler.sample(shots, eval_doc=item)) for item in items]
        assert fewshot_examples(benchmark, items, 5, shots) == ours[:5]  # a limit scores fewer, from the same pool
        assert all(item not in examples for item, examples in zip(items, ours))
    assert any(example.question == item.question for item, examples in zip(items, ours) for example in examples)
    with pytest.raises(EvalError, match="2 shots need more than 2 items; it has 2"):
        fewshot_examples(benchmark, items[:2], None, 2)


def test_sharing_the_context_across_options_changes_nothing(tmp_path, small_tokenizer, benchmark_items):
    """One row per item (context once, options masked apart) against one plain forward per option as lm-eval makes
    it: the last max_len + 1 ids of context + option, less the last. Zero-shot in 512 tokens nothing is cut; 2-shot
    in 60 the contexts are, differently for options of different lengths (" maybe" is longer than " yes")."""
    model = load_hf(tiny_random_llama(tmp_path / "model", small_tokenizer)).eval()
    paths = benchmark_items(tmp_path / "items", 3)
    benchmark = BenchmarkSet(name="pubmedqa", format="pubmedqa", path=str(paths["pubmedqa"][0]))
    items, tokenizer = read_items(benchmark), Tokenizer(small_tokenizer)
    assert prompt(benchmark, items[0]).startswith("Abstract: ") and prompt(benchmark, items[0]).endswith("\nAnswer:")
    for shots, max_len in ((0, 512), (2, 60)):
        uncut = requests(benchmark, items, tokenizer, 1, sys.maxsize, shots=shots)
        built = requests(benchmark, items, tokenizer, 1, max_len, shots=shots)
        assert any(len(request.contexts) > 1 for request in built) == bool(shots)
        for request, whole, sums in zip(built, uncut, score(model, built, torch.device("cpu"))):
            for continuation, value in zip(request.continuations, sums):
                tokens = torch.tensor([(whole.contexts[0] + continuation)[-(max_len + 1):]])
                with torch.no_grad():
                    logprobs = model(tokens[:, :-1]).log_softmax(-1)[0, -len(continuation):]
                alone = logprobs.gather(1, torch.tensor(continuation)[:, None]).sum().item()
                assert value == pytest.approx(alone, abs=1e-5)


def test_a_run_its_checkpoint_and_its_hf_export_score_benchmarks_alike(tmp_path, small_tokenizer, pack_documents,
                                                                       write_config, log_records, benchmark_items):
    """`eval_benchmarks` logs acc and acc_norm against tokens seen; at the last step they are what `medmix eval`
    gives for the run directory (its latest DCP checkpoint, with the architecture, tokenizer and BOS id the run
    recorded), whose log-likelihoods are those of the HF folder the run exported."""
    texts = [" ".join(np.random.default_rng(n).choice(WORDS, 30)) for n in range(40)]
    shards = pack_documents(tmp_path / "train", Tokenizer(small_tokenizer), texts, seq_len=32)
    items = benchmark_items(tmp_path / "items", 12)
    specs = [f"medqa={items['medqa'][0]}:mcq_jsonl", f"pubmedqa={items['pubmedqa'][0]}:pubmedqa"]
    eval_benchmarks = [parse_benchmark(spec).model_dump() | {"limit": 10, "shots": 2} for spec in specs]
    config = write_config(tmp_path / "train.yaml", {"train": shards, "tokenizer": str(small_tokenizer)}, steps=4,
                          eval_every=2, save_hf=True, eval_benchmarks=eval_benchmarks)
    train(load_train_config(config))
    log = log_records(tmp_path / "run")
    assert [step for step, record in log.items() if "acc/medqa" in record and "acc_norm/pubmedqa" in record] == [0, 2, 4]

    from_checkpoint, summary = evaluate(tmp_path / "run", [parse_benchmark(spec) for spec in specs], limit=10, shots=2)
    for name in ("medqa", "pubmedqa"):
        assert (log[4][f"acc/{name}"], log[4][f"acc_norm/{name}"]) == (summary[name]["acc"], summary[name]["acc_norm"])
    from_export, _ = evaluate(tmp_path / "run" / "hf", [parse_benchmark(spec) for spec in specs], limit=10, shots=2)
    for ours, exported in zip(from_checkpoint, from_export):
        assert list(ours["loglikelihoods"].values()) == pytest.approx(list(exported["loglikelihoods"].values()),
                                                                      abs=1e-5)
    with pytest.raises(EvalError, match="not the tokenizer this checkpoint was trained with"):
        evaluate(tmp_path / "run", [parse_benchmark(specs[0])], tokenizer=tmp_path / "run" / "hf" / "tokenizer.json")
    with pytest.raises(TrainConfigError, match="eval_benchmarks: name the shards' tokenizer file"):
        load_train_config(config, data={"train": shards})
    with pytest.raises(TrainConfigError, match="jsonl_fields items have no options"):
        load_train_config(config, eval_benchmarks=[eval_benchmarks[0] | {"format": "jsonl_fields"}])


def test_benchmark_specs_and_checkpoints_that_cannot_be_scored(tmp_path):
    spec = parse_benchmark("pqa=/data/ori_pqal.json:pubmedqa:/data/test_ground_truth.json")
    assert (spec.name, spec.path, spec.format, spec.split_ids) == (
        "pqa", "/data/ori_pqal.json", "pubmedqa", "/data/test_ground_truth.json")
    assert parse_benchmark("medqa=C:/x/test.jsonl:mcq_jsonl").path == "C:/x/test.jsonl"
    for bad in ("medqa=test.jsonl", "medqa=test.jsonl:jsonl_fields", "=x.jsonl:mcq_jsonl", "m=x:mcq_jsonl:ids"):
        with pytest.raises(EvalError):
            parse_benchmark(bad)
    with pytest.raises(EvalError, match="neither a HF folder"):
        evaluate(tmp_path, [])


def test_the_real_benchmark_files_score_with_llama_2s_tokenizer(tmp_path, shared):
    """MedQA, MedMCQA, MMLU medical and PubMedQA's test PMIDs, as shipped, through a random model with LLaMA-2's
    32,000-piece tokenizer: every file reads, and every item gets one finite score per option."""
    from medmix.train.model import Llama, LlamaConfig, save_hf

    tokenizer, files = shared / "tokenizers" / "llama2" / "tokenizer.model", shared / "benchmarks"
    if not tokenizer.is_file():
        pytest.skip(f"no LLaMA-2 tokenizer at {tokenizer}")
    model = Llama(LlamaConfig(vocab_size=32000, dim=32, n_layers=1, n_heads=2, n_kv_heads=2, hidden_dim=64))
    model.init_weights(0)
    save_hf(model, tmp_path / "model", 1, 2, hf_tokenizer_files(tokenizer, 1, 2))
    specs = [f"medqa={files / 'medqa_usmle_test.jsonl'}:mcq_jsonl", f"medmcqa={files / 'medmcqa_dev.jsonl'}:mcq_jsonl",
             f"mmlu={files / 'mmlu_medical_test.jsonl'}:mcq_jsonl",
             f"pubmedqa={files / 'ori_pqal.json'}:pubmedqa:{files / 'test_ground_truth.json'}"]
    records, summary = evaluate(tmp_path / "model", [parse_benchmark(s) for s in specs], limit=8)
    assert {name: row["n"] for name, row in summary.items()} == {"medqa": 8, "medmcqa": 8, "mmlu": 8, "pubmedqa": 8}
    assert all(np.isfinite(list(r["loglikelihoods"].values())).all() and r["gold"] in r["loglikelihoods"]
               for r in records)
