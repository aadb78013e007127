"""The `medmix` command line."""

from __future__ import annotations

import dataclasses
import json
import sys
import traceback
from importlib import resources
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from medmix.corpus.recipe import RecipeError, load_recipe

app = typer.Typer(help="Rebuild the Me-LLaMA continual pre-training corpus.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
# piped or redirected output gets whole table columns ("redpajama", not "redpaj…"): wide, no terminal to fit
console = Console() if sys.stdout.isatty() else Console(width=200)


def print_table(table: Table) -> None:
    """A table whose cells fold onto more lines in a narrow terminal, instead of being cut off with an ellipsis."""
    for column in table.columns:
        column.no_wrap, column.overflow = False, "fold"
    console.print(table)


def show_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        console.print(f"medmix {version('medmix')}")
        raise typer.Exit()


class Session:
    debug = False  # --debug: let an unexpected error show its traceback


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=show_version, is_eager=True,
                                          help="print medmix's version and exit")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="show the traceback of an unexpected error")] = False,
) -> None:
    """Rebuild the Me-LLaMA continual pre-training corpus."""
    Session.debug = debug


def entry() -> None:
    """The `medmix` command. A user's mistake is reported by the command itself, in one line; anything else
    is a bug or an input medmix did not expect, also shown in one line: its type and where it happened,
    never its message, which may quote a clinical record. `--debug` shows the traceback instead."""
    try:
        app()
    except Exception as error:  # noqa: BLE001 - the last line of defence
        if Session.debug:
            raise
        frame = traceback.extract_tb(error.__traceback__)[-1]
        console.print(f"[bold red]unexpected error:[/] {type(error).__name__} at {Path(frame.filename).name}:"
                      f"{frame.lineno}; re-run with `medmix --debug ...` for the traceback", highlight=False)
        sys.exit(1)


RecipeArg = Annotated[Path, typer.Argument(help="recipe YAML file")]
OutputOpt = Annotated[Optional[Path], typer.Option("--output-dir", "-o", help="overrides the recipe's output_dir")]
DataRootOpt = Annotated[Optional[Path], typer.Option("--data-root", help="overrides the recipe's data_root")]


def absolute(path: Path | None) -> str | None:
    """Paths given on the command line are relative to where the user stands, not to the recipe."""
    return str(path.resolve()) if path is not None else None


def fail(message: str) -> None:
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)  # paths stay whole
    raise typer.Exit(2)


def stage_progress() -> Progress:
    return Progress(TextColumn("{task.description:<18}"), BarColumn(), MofNCompleteColumn(), TextColumn("tasks"),
                    TimeElapsedColumn(), console=console)


@app.command()
def validate(
    recipe: RecipeArg,
    check_paths: Annotated[bool, typer.Option(help="also check that every input path matches files")] = True,
    data_root: DataRootOpt = None,
) -> None:
    """Check a recipe: schema, cross-references, and that every input path matches files."""
    try:
        loaded = load_recipe(recipe, check_paths=check_paths, data_root=absolute(data_root))
    except RecipeError as error:
        fail(str(error))
    console.print(f"[green]ok[/] {recipe}: {len(loaded.sources)} sources, {len(loaded.stages)} stages, "
                  f"executor {loaded.executor.kind}")


def run_build(recipe_path: Path, output_dir: Path | None, data_root: Path | None, force_restart: bool = False):
    from medmix.corpus.build import BuildError, build
    from medmix.rundir import RunDir

    try:
        recipe = load_recipe(recipe_path, output_dir=absolute(output_dir), data_root=absolute(data_root))
        run = RunDir(Path(recipe.output_dir))
        with stage_progress() as progress:
            build(recipe, run, progress, force_restart)
    except (RecipeError, BuildError) as error:
        fail(str(error))
    if recipe.executor.kind == "slurm":
        show_submission(run)
    elif run.plan.exists():
        for warning in json.loads(run.plan.read_text())["warnings"]:
            console.print(f"[bold yellow]mix warning:[/] {warning}", soft_wrap=True)
    return run


def show_submission(run) -> None:
    """What `medmix build` did on Slurm: the job arrays it submitted, or that there was nothing to submit."""
    from medmix.corpus.slurm import last_submission

    submission = last_submission(run)
    if submission["cancelled_stale"]:
        console.print(f"cancelled {len(submission['cancelled_stale'])} stale Slurm jobs of an earlier submission, "
                      f"which could never start: {', '.join(submission['cancelled_stale'])}")
    jobs = list(submission["submitted"].values())
    if not jobs:
        console.print(f"nothing submitted: every phase of {run} is complete")
    else:
        console.print(f"submitted {len(jobs)} phases to Slurm as job arrays {jobs[0]}..{jobs[-1]}, each waiting "
                      f"for the one before; follow them with [bold]medmix status {run}[/]", soft_wrap=True)


@app.command("build")
def build_command(
    recipe: RecipeArg, output_dir: OutputOpt = None, data_root: DataRootOpt = None,
    force_restart: Annotated[bool, typer.Option(
        "--force-restart", help="delete what an earlier build wrote into the output dir and build from scratch")] = False,
) -> None:
    """Build the corpus a recipe describes. Re-running resumes: finished tasks are skipped."""
    show_status(run_build(recipe, output_dir, data_root, force_restart))


def compact(number: int) -> str:
    """12,345,678 -> 12.3M: character counts fit the table."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(number) >= size:
            return f"{number / size:.1f}{unit}"
    return str(number)


def run_dir_of(path: Path):
    """The run directory at `path`, or a one-line error that says where one is."""
    from medmix.rundir import RunDir

    run = RunDir(path)
    if run.is_run():
        return run
    hint = f"; did you mean {path / 'build'} (where `medmix demo` builds)?" if RunDir(path / "build").is_run() else ""
    fail(f"{path} is not a medmix run directory (no recipe.json){hint}")


def show_status(run) -> None:
    from medmix.corpus.ledger import check_accounts, read_ledger, removal_reasons, stage_summary
    from medmix.corpus.slurm import SlurmError, last_submission, queued_jobs

    submitted = last_submission(run)["submitted"]
    try:
        states = {job.job_id: f"{job.state.lower()} ({job.reason})" if job.state == "PENDING" else job.state.lower()
                  for job in queued_jobs(run)} if submitted else {}
    except SlurmError as error:
        console.print(f"[yellow]Slurm job states unknown:[/] {error}")
        states = {}
    stages = Table(title=f"{run}: stages", title_justify="left")
    for column in ("stage", "tasks done per phase", *(["Slurm jobs"] if submitted else [])):
        stages.add_column(column)
    for stage, phases in run.phase_progress():
        jobs = [f"{phase} {job}: {states.get(job, 'not queued')}" for phase, _ in phases
                if (job := submitted.get(f"{stage}/{phase}"))]
        stages.add_row(stage, ", ".join(f"{phase} {done}" for phase, done in phases),
                       *([", ".join(jobs)] if submitted else []))
    print_table(stages)

    ledger = read_ledger(run)
    accounts = Table(title="documents (characters) per stage and source; edited: characters cut, or + added",
                     title_justify="left")
    accounts.add_column("stage")
    outcomes = ("in", "kept", "removed", "edited")
    for column in ("source", *outcomes):
        accounts.add_column(column, justify="right" if column in outcomes else "left")
    for row in stage_summary(ledger).iter_rows(named=True):
        cells = [(row[f"docs_{o}"], row[f"chars_{o}"]) for o in outcomes]
        accounts.add_row(row["stage_dir"], row["source"], *(f"{docs:,} ({compact(chars) if chars >= 0 else '+' + compact(-chars)})"
                                                             for docs, chars in cells))
    print_table(accounts)

    reasons = Table(title="removals by reason", title_justify="left")
    for column in ("stage", "source", "reason", "docs"):
        reasons.add_column(column)
    for row in removal_reasons(ledger).iter_rows(named=True):
        reasons.add_row(row["stage_dir"], row["source"], row["reason"], f"{row['docs']:,}")
    print_table(reasons)
    for problem in check_accounts(run):
        console.print(f"[bold red]accounts do not add up:[/] {problem}")


@app.command()
def status(run_dir: Annotated[Path, typer.Argument(help="a build's output_dir")]) -> None:
    """Show a run's stages, task progress, and where every document went."""
    show_status(run_dir_of(run_dir))


@app.command()
def demo(
    run_dir: Annotated[Path, typer.Option("--run-dir", help="where inputs and outputs go")] = Path("runs/demo"),
    recipe: Annotated[Optional[Path], typer.Option(help="default: the bundled recipes/demo.yaml")] = None,
) -> None:
    """Generate synthetic inputs in every source's real format, build recipes/demo.yaml on them into
    RUN_DIR/build, audit it (RUN_DIR/audit.html), and train a tiny LLaMA on its shards for 30 steps."""
    import os

    from medmix.corpus.demo_data import DEMO_PHI_SECRET, write_demo_inputs

    if not os.environ.get("MEDMIX_PHI_SECRET"):  # the demo recipe's surrogates read their key from it
        os.environ["MEDMIX_PHI_SECRET"] = DEMO_PHI_SECRET
        console.print("MEDMIX_PHI_SECRET is not set: the demo uses its own surrogate key (for synthetic notes only)")
    run_dir = run_dir.resolve()  # the re-run command printed below then works from any directory
    inputs = run_dir / "inputs"
    counts = write_demo_inputs(inputs)
    console.print(f"generated demo inputs in {inputs}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    recipe_path = recipe or Path(str(resources.files("medmix.recipes") / "demo.yaml"))
    from medmix.train.experiment import demo_train_config

    run = run_build(recipe_path, run_dir / "build", inputs)
    audit(run.root, json_out=run_dir / "audit.json", html_out=run_dir / "audit.html")
    console.print(f"shards in {run.shards}")
    secret = "" if os.environ["MEDMIX_PHI_SECRET"] != DEMO_PHI_SECRET else f"MEDMIX_PHI_SECRET={DEMO_PHI_SECRET} "
    console.print(f"to re-run this build (it resumes): {secret}medmix build {recipe_path} --data-root {inputs} "
                  f"--output-dir {run.root}", soft_wrap=True, highlight=False)
    run_training(demo_train_config(run, run_dir / "train", inputs / "tokenizer.model"))


def run_training(config) -> None:
    from medmix.train.loop import train

    with console.status(f"training ({config.steps} steps) into {config.run_dir}"):
        records = train(config)
    if not records:
        console.print(f"{config.run_dir} has already trained {config.steps} steps; nothing to do")
        return
    evaluated = sorted({k for r in records for k in r if k.startswith(("val_loss/", "acc/"))})  # validation, benchmarks
    table = Table("step", "tokens", "loss", *evaluated, title="training", title_justify="left")
    for record in records:
        if any(k in record for k in evaluated):
            table.add_row(str(record["step"]), f"{record['tokens']:,}", f"{record['loss']:.3f}",
                          *(f"{record[k]:.3f}" if k in record else "" for k in evaluated))
    print_table(table)
    console.print(f"log: {Path(config.run_dir) / 'log.jsonl'}; checkpoints: {Path(config.run_dir) / 'checkpoints'}")


@app.command("train")
def train_command(config: Annotated[Path, typer.Argument(help="training config YAML")]) -> None:
    """Train on shards (one process; `torchrun --nproc-per-node N -m medmix.train CONFIG` for more)."""
    from medmix.train.config import TrainConfigError, load_train_config

    try:
        settings = load_train_config(config)
    except TrainConfigError as error:
        fail(str(error))
    try:
        run_training(settings)
    except ValueError as error:  # shards that do not fit the model or the config: the user's to fix
        fail(f"{config}: {error}")


@app.command("eval")
def eval_command(
    checkpoint: Annotated[Path, typer.Argument(help="a HF LLaMA folder, or a medmix run directory or checkpoint "
                                                    "(RUN_DIR/checkpoints/step_NNNNNN)")],
    benchmark: Annotated[list[str], typer.Option(
        "--benchmark", help="NAME=PATH:FORMAT, FORMAT mcq_jsonl or pubmedqa (pubmedqa may end :SPLIT_IDS, a JSON "
                            "file keyed by the PMIDs to score); repeat for more")],
    tokenizer: Annotated[Optional[Path], typer.Option(help="the tokenizer file, if not the checkpoint's")] = None,
    limit: Annotated[Optional[int], typer.Option(help="score the first N items of each benchmark")] = None,
    shots: Annotated[int, typer.Option(min=0, help="labelled examples before each item, drawn from the other items "
                                                   "of its benchmark as lm-eval draws them (seed 1234)")] = 0,
    json_out: Annotated[Optional[Path], typer.Option(
        "--json", help="one JSON line per item here, and the summary in <stem>.summary.json beside it")] = None,
    batch_tokens: Annotated[int, typer.Option(help="padded tokens per forward pass")] = 8192,
    bf16: Annotated[bool, typer.Option(help="bfloat16 weights (for a GPU); fp32 otherwise")] = False,
) -> None:
    """Score a checkpoint on benchmark files, zero- or few-shot, by each option's log-likelihood
    (lm-evaluation-harness's prompts, few-shot examples and acc / acc_norm)."""
    from medmix.benchmarks import BenchmarkError
    from medmix.train.evaluate import EvalError, evaluate, parse_benchmark, write_results

    try:
        specs = [parse_benchmark(spec) for spec in benchmark]
        with Progress(TextColumn("scoring items"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console) as progress:
            task = progress.add_task("items", total=None)
            records, summary = evaluate(checkpoint, specs, tokenizer, limit, shots, batch_tokens, bf16,
                                        on_progress=lambda done, total: progress.update(task, completed=done,
                                                                                        total=total))
    except (EvalError, BenchmarkError, FileNotFoundError) as error:
        fail(str(error))
    table = Table("benchmark", "items", "shots", "acc", "± se", "acc_norm", "± se", title=str(checkpoint),
                  title_justify="left")
    for name, row in summary.items():
        table.add_row(name, str(row["n"]), str(row["shots"]),
                      *(f"{row[key]:.4f}" if row[key] is not None else "-"
                        for key in ("acc", "acc_stderr", "acc_norm", "acc_norm_stderr")))
    print_table(table)
    if json_out:
        console.print(f"items: {json_out}; summary: {write_results(records, summary, json_out)}")


experiment_app = typer.Typer(help="Experiments on the trainer.", no_args_is_help=True)
app.add_typer(experiment_app, name="experiment")


@experiment_app.command("forgetting")
def forgetting(
    out: Annotated[Path, typer.Option(help="where data, runs and results go")] = Path("runs/forgetting"),
    shared: Annotated[Optional[Path], typer.Option(
        help="the shared sample data (default: $MEDMIX_SHARED_DATA, else ../shared/data next to the repository); "
             "generated text where it is absent", show_default=False)] = None,
    seeds: Annotated[int, typer.Option(min=1)] = 3,
    pretrain_steps: Annotated[int, typer.Option(min=1)] = 1000,
    continue_steps: Annotated[int, typer.Option(min=1)] = 500,
    workers: Annotated[int, typer.Option(min=1, help="runs at once, one thread each")] = 2,
) -> None:
    """Pre-train a tiny LLaMA on general text, continue on medical text with 0 to 40% general replay, compare."""
    from medmix.train.experiment import SWEEP, run_forgetting

    with Progress(TextColumn("training steps"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as progress:
        task = progress.add_task("steps", total=None)
        result = run_forgetting(out, shared, SWEEP, seeds, pretrain_steps, continue_steps, workers,
                                lambda done, total: progress.update(task, completed=done, total=total))
    table = Table("setting", "general before", "general after", "medical before", "medical after",
                  title=f"validation loss, mean ± sd of {seeds} seeds: {result['data']['text']}", title_justify="left")
    for row in result["rows"]:
        table.add_row(row["label"], *(f"{row[k][0]:.3f} ± {row[k][1]:.3f}" for k in (
            "general_before", "general_after", "medical_before", "medical_after")))
    print_table(table)
    console.print(f"plot: {result['plot']}; every run: {out / 'results.json'}")


@app.command()
def audit(
    run_dir: Annotated[Path, typer.Argument(help="a build's output_dir")],
    json_out: Annotated[Optional[Path], typer.Option("--json", help="also write the report as JSON")] = None,
    html_out: Annotated[Optional[Path], typer.Option("--html", help="also write an HTML report with plots")] = None,
) -> None:
    """Account for every record, and compare target with realized token shares read from the shards."""
    from medmix.corpus.audit import audit as run_audit
    from medmix.corpus.audit import failures

    run = run_dir_of(run_dir)
    report = run_audit(run)
    show_status(run)
    if "shares" not in report:
        console.print("[yellow]no training shards yet: the mix part of the audit needs a finished build[/]")
    else:
        shares = Table("key", "target %", "realized %", "delta (pp)", "tokens", title="mix: read from the shards",
                       title_justify="left")
        for row in report["shares"]:
            mark = "" if row["within_tolerance"] else " [bold red]✗[/]"
            shares.add_row(row["key"], f"{row['target_pct']:.2f}", f"{row['realized_pct']:.2f}",
                           f"{row['delta_pp']:+.2f}{mark}", f"{row['tokens']:,}")
        print_table(shares)
        tokens = Table("source", "domain", "docs", "tokens cleaned", "validation", "target", "repetition",
                       "in shards", title="tokens per source", title_justify="left")
        for row in report["tokens"]:
            tokens.add_row(row["source"], row["domain"], f"{row['docs_cleaned']:,}", f"{row['tokens_cleaned']:,}",
                           f"{row['tokens_validation']:,}", f"{row['tokens_target']:,}",
                           f"{row['repetition_factor']:.2f}" + (" (capped)" if row["capped"] else ""),
                           f"{row['tokens_in_shards']:,}")
        print_table(tokens)
        for warning in report["mix_warnings"]:
            console.print(f"[yellow]mix warning:[/] {warning}")
    if report["phi"]:
        phi = Table("source", "label", "spans", title="PHI spans by type", title_justify="left")
        for row in report["phi"]:
            phi.add_row(row["source"], row["label"], f"{row['spans']:,}")
        print_table(phi)
    if json_out:
        json_out.write_text(json.dumps(report, indent=1, default=str))
    if html_out:
        from medmix.corpus.report import html_report  # matplotlib: imported only for the HTML

        html_out.write_text(html_report(report))
        console.print(f"audit report in {html_out}")  # before a failure: a failed audit is the one to read
    if problems := failures(report):
        console.print(f"[bold red]audit failed:[/] {'; '.join(problems)}")
        raise typer.Exit(1)


def phi_scrubber(ner_model: str | None, model: Path | None = None, threshold: float | None = None,
                 known: Path | None = None, patient_key: str = "subject_id"):
    from medmix.corpus.phi.known import KnownIdentifiers, KnownIdentifiersError
    from medmix.corpus.phi.scrubber import PhiScrubber, ScrubberSettings

    if model is not None and not model.is_file():
        fail(f"--model {model}: no such file (train one with `medmix phi-train`)")
    settings = ScrubberSettings(ner_model=ner_model, model=model and str(model))
    if threshold is not None:
        settings = dataclasses.replace(settings, threshold=threshold)
    try:
        identifiers = KnownIdentifiers.load(known, patient_key) if known else None
    except KnownIdentifiersError as error:
        fail(str(error))
    with console.status("loading the PHI scrubber (lexicons, tagger, presidio)"):
        return PhiScrubber(settings, identifiers)


NerOpt = Annotated[Optional[str], typer.Option("--ner-model", help="add spaCy NER with this installed model")]
ModelOpt = Annotated[Optional[Path], typer.Option("--model", help="PHI tagger from `medmix phi-train`; default: the bundled one")]
ThresholdOpt = Annotated[Optional[float], typer.Option(
    "--threshold", min=0.0, max=1.0, help="redact a token whose PHI probability reaches this; lower: more recall")]


@app.command()
def scrub(
    source: Annotated[Path, typer.Argument(help="input JSON lines (.jsonl, .jsonl.gz, .jsonl.zst)")],
    target: Annotated[Path, typer.Argument(help="output JSONL (gzip or zstd if it ends in .gz or .zst): {id, text, phi: [{start, end, "
                                                "label}]} per record")],
    text_key: Annotated[str, typer.Option("--text-key", help="field that holds the text")] = "text",
    id_key: Annotated[str, typer.Option("--id-key", help="field that holds the record id (copied to the output)")] = "id",
    surrogates: Annotated[bool, typer.Option("--surrogates", help="fake names and shifted dates, not tags")] = False,
    secret_env: Annotated[str, typer.Option(help="environment variable holding the surrogate secret")] = "MEDMIX_PHI_SECRET",
    patient_key: Annotated[str, typer.Option(
        help="field that identifies the patient (date shift; key of --known)")] = "subject_id",
    known: Annotated[Optional[Path], typer.Option(
        "--known", help="CSV or parquet of each patient's names, MRNs, phones, addresses, keyed by --patient-key: "
                        "redacted wherever they appear in that patient's records")] = None,
    model: ModelOpt = None,
    threshold: ThresholdOpt = None,
    ner_model: NerOpt = None,
) -> None:
    """Scrub PHI from a JSONL file; offsets in `phi` point into the original text."""
    from rich.progress import DownloadColumn

    from medmix.corpus.phi.files import scrub_jsonl
    from medmix.corpus.phi.redactor import Redactor
    from medmix.corpus.phi.replace import SecretError, Surrogates, read_secret

    if not source.is_file():
        fail(f"{source}: no such file")
    if target.resolve() == source.resolve():
        fail("the output must not overwrite the input")
    try:
        replacement = Surrogates(read_secret(secret_env)) if surrogates else None
    except SecretError as error:
        fail(f"--surrogates: {error}")
    redactor = Redactor(phi_scrubber(ner_model, model, threshold, known, patient_key), replacement, patient_key)
    compressed = source.name.endswith((".gz", ".zst"))  # progress in bytes read, decompressed: no total then
    with Progress(TextColumn("scrubbing"), BarColumn(), DownloadColumn(), TimeElapsedColumn(),
                  console=console) as progress:
        task = progress.add_task("scrub", total=None if compressed else source.stat().st_size)
        report = scrub_jsonl(source, target, redactor, text_key, id_key, advance=lambda n: progress.advance(task, n))
    found = ", ".join(f"{label} {count}" for label, count in report.labels.most_common()) or "none"
    console.print(f"{report.records} records, {report.chars:,} characters; PHI spans by label: {found}")
    if report.failed:
        problems = ", ".join(f"{problem}: {count}" for problem, count in report.errors.items())
        lines = ", ".join(f"line {number} ({problem})" for number, problem in report.failures)
        more = f" and {report.failed - len(report.failures)} more" if report.failed > len(report.failures) else ""
        console.print(f"[bold red]{report.failed} records could not be scrubbed[/] ({problems}): {lines}{more}; "
                      "their output lines carry an `error` and no text")
        raise typer.Exit(1)


def parse_folds(option: str, value: str) -> list[int]:
    """"0" or "1,2,3,4": patient folds as `medmix.corpus.phi.folds` deals them."""
    from medmix.corpus.phi.folds import FOLDS

    try:
        folds = sorted({int(fold) for fold in value.split(",")})
    except ValueError:
        fail(f"{option} {value}: expected fold numbers separated by commas, e.g. 0 or 1,2,3,4")
    if not set(folds) <= set(range(FOLDS)):
        fail(f"{option} {value}: folds are numbered 0 to {FOLDS - 1}")
    return folds


@app.command("phi-eval")
def phi_eval(
    physionet: Annotated[Optional[Path], typer.Option(help="folder with PhysioNet id.text and id-phi.phrase")] = None,
    presidio: Annotated[Optional[Path], typer.Option(help="presidio-research synthetic dataset JSON")] = None,
    folds: Annotated[Optional[str], typer.Option(
        help="PhysioNet: score only these patient folds, e.g. '0' (the frozen fold) or '1,2,3,4'")] = None,
    model: ModelOpt = None,
    threshold: ThresholdOpt = None,
    ner_model: NerOpt = None,
) -> None:
    """Score the scrubber: alnum, strict and lenient span recall, recall per category, character precision."""
    from medmix.corpus.phi.evaluate import evaluate
    from medmix.corpus.phi.folds import split
    from medmix.corpus.phi.gold import read_physionet, read_presidio_synthetic

    sets = {}
    if physionet:
        if not (physionet / "id.text").is_file() or not (physionet / "id-phi.phrase").is_file():
            fail(f"{physionet}: expected id.text and id-phi.phrase in it")
        notes = read_physionet(physionet / "id.text", physionet / "id-phi.phrase")
        if folds:
            notes = split(notes, parse_folds("--folds", folds))
        sets["physionet" + (f" folds {folds}" if folds else "")] = notes
    if presidio:
        if not presidio.is_file():
            fail(f"{presidio}: no such file")
        sets["presidio synthetic"] = read_presidio_synthetic(presidio)
    if not sets:
        fail("give --physionet and/or --presidio")
    scrubber = phi_scrubber(ner_model, model, threshold)
    for name, result in evaluate(scrubber, sets).items():
        scores = result.scores
        console.print(f"[bold]{name}[/]: {result.notes} notes, {scores.spans} gold spans, {result.kb_per_second:.0f} KB/s")
        table = Table("measure", "value")
        table.add_row("alnum recall", f"{scores.alnum_recall:.3f}")
        table.add_row("strict recall", f"{scores.strict_recall:.3f}")
        table.add_row("lenient recall", f"{scores.lenient_recall:.3f}")
        table.add_row("character precision", f"{scores.char_precision:.3f}")
        for label, (recall, total) in scores.category_recall().items():
            table.add_row(f"  alnum recall, {label} ({total})", f"{recall:.3f}")
        print_table(table)


@app.command("phi-train")
def phi_train(
    gold: Annotated[Path, typer.Argument(help="annotated notes: PhysioNet id.text + id-phi.phrase, or *.jsonl "
                                               "with {id, text, spans: [{start, end, label}]}")],
    out: Annotated[Path, typer.Argument(help="where to write the trained tagger (use it with --model or `model:`)")],
    exclude_folds: Annotated[Optional[str], typer.Option(
        help="leave these patient folds out, e.g. '0' to keep the frozen fold unseen")] = None,
    copies: Annotated[int, typer.Option(min=1, help="surrogate copies of each note")] = 2,
    synthetic: Annotated[int, typer.Option(min=0, help="generated documents in other styles")] = 400,
    seed: Annotated[int, typer.Option(help="seed for surrogates and generated documents")] = 0,
) -> None:
    """Train the PHI tagger on your own annotated notes: every PHI value is replaced by random surrogates
    (`copies` times), so the model learns contexts, not your patients' names."""
    from medmix.corpus.phi.folds import FOLDS, split
    from medmix.corpus.phi.gold import read_gold_dir
    from medmix.corpus.phi.tagger import train_on_gold

    if not gold.is_dir():
        fail(f"{gold}: not a folder of annotated notes")
    try:
        notes = read_gold_dir(gold)
    except ValueError as error:
        fail(str(error))
    if exclude_folds:
        left_out = parse_folds("--exclude-folds", exclude_folds)
        notes = split(notes, [fold for fold in range(FOLDS) if fold not in left_out])
    if not notes:
        fail(f"{gold}: no annotated notes to train on")
    console.print("features for every training document, then the CRF's optimisation (a few minutes, no progress shown)",
                  soft_wrap=True)
    with Progress(TextColumn("features"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as progress:
        task = progress.add_task("features", total=len(notes) * copies + synthetic)
        train_on_gold(notes, out, copies=copies, synthetic=synthetic, seed=seed,
                      progress=lambda: progress.advance(task))
    console.print(f"trained on {len(notes)} notes ({sum(len(n.spans) for n in notes)} gold spans) "
                  f"x {copies} surrogate copies + {synthetic} generated documents: {out} "
                  f"({out.stat().st_size / 1e6:.1f} MB)", soft_wrap=True)


if __name__ == "__main__":
    entry()
