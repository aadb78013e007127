"""Recipes: typed, and a bad one fails with a message that names the offending key or path."""

import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from medmix.cli import app
from medmix.corpus.recipe import RecipeError, load_recipe, resolve_inputs

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def write_recipe(tmp_path: Path, **changes) -> Path:
    (tmp_path / "notes").mkdir(exist_ok=True)
    (tmp_path / "notes" / "NOTEEVENTS.csv").write_text("ROW_ID,TEXT\n")
    (tmp_path / "web.jsonl").write_text('{"text": "hello"}\n')
    (tmp_path / "tokenizer.model").write_bytes(b"")  # present: its content is the build's concern
    recipe = {
        "name": "t",
        "output_dir": str(tmp_path / "run"),
        "sources": [
            {"name": "notes", "domain": "clinical", "format": "mimic3_noteevents", "paths": ["notes/*.csv"],
             "deidentified": True},
            {"name": "web", "domain": "general", "format": "jsonl", "paths": ["web.jsonl"]},
        ],
        "mix": {"total_tokens": 1000, "shares": {"clinical": 1, "general": 4}},
        "tokenizer": {"path": "tokenizer.model"},
    }
    for key, value in changes.items():
        recipe[key] = value
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def test_a_valid_recipe_resolves_its_globs_relative_to_the_recipe(tmp_path):
    recipe = load_recipe(write_recipe(tmp_path))
    assert recipe.executor.kind == "local"
    assert resolve_inputs(recipe) == {"notes": [str(tmp_path / "notes" / "NOTEEVENTS.csv")],
                                      "web": [str(tmp_path / "web.jsonl")]}


def test_unknown_key_is_named_with_its_source(tmp_path):
    path = write_recipe(tmp_path)
    raw = yaml.safe_load(path.read_text())
    raw["sources"][1]["options"] = {"text_kye": "body"}
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(RecipeError, match=r"sources\[1\] 'web' -> options -> text_kye: Extra inputs"):
        load_recipe(path)


def test_unknown_top_level_key(tmp_path):
    with pytest.raises(RecipeError, match="shuffle: Extra inputs are not permitted"):
        load_recipe(write_recipe(tmp_path, shuffle=True))


def test_missing_input_path_is_named(tmp_path):
    path = write_recipe(tmp_path)
    raw = yaml.safe_load(path.read_text())
    raw["sources"][1]["paths"] = ["web.jsonl", "missing/*.jsonl"]
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(RecipeError, match=r"sources\[1\] 'web' -> paths\[1\]: '.*missing/\*\.jsonl' matches no file"):
        load_recipe(path)
    assert load_recipe(path, check_paths=False).name == "t"


@pytest.mark.parametrize("share", [0, -1.5, float("inf")])
def test_shares_must_be_positive(tmp_path, share):
    message = f"mix -> shares: share for 'general' must be positive and finite, got {share}"
    with pytest.raises(RecipeError, match=message):
        load_recipe(write_recipe(tmp_path, mix={"total_tokens": 10, "shares": {"clinical": 1, "general": share}}))


def test_share_keys_must_name_a_source_or_domain(tmp_path):
    with pytest.raises(RecipeError, match="'biomedical' is neither a source name nor a domain"):
        load_recipe(write_recipe(tmp_path, mix={"total_tokens": 10, "shares": {"biomedical": 15}}))


def test_clinical_source_without_phi_stage_is_refused_unless_deidentified(tmp_path):
    path = write_recipe(tmp_path)
    raw = yaml.safe_load(path.read_text())
    raw["sources"][0]["deidentified"] = False
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(RecipeError, match=r"sources\[0\] 'notes': clinical notes that are not de-identified need a `phi`"):
        load_recipe(path)
    raw["stages"] = [{"kind": "phi"}]
    path.write_text(yaml.safe_dump(raw))
    assert load_recipe(path).stages[0].check_deidentified is True


def test_unknown_stage_kind_and_bad_executor(tmp_path):
    with pytest.raises(RecipeError, match=r"stages\[0\] \(sparkle\): Input tag 'sparkle' found using 'kind' does not match"):
        load_recipe(write_recipe(tmp_path, stages=[{"kind": "sparkle"}]))
    with pytest.raises(RecipeError, match=r"stages\[0\] \(length_filter\): max_chars 10 is below min_chars 50"):
        load_recipe(write_recipe(tmp_path, stages=[{"kind": "length_filter", "min_chars": 50, "max_chars": 10}]))
    with pytest.raises(RecipeError, match="partition: Field required"):
        load_recipe(write_recipe(tmp_path, executor={"kind": "slurm", "tasks": 4}))


def test_a_file_read_by_two_sources_is_refused(tmp_path):
    path = write_recipe(tmp_path)
    raw = yaml.safe_load(path.read_text())
    raw["sources"].append({"name": "web_again", "domain": "general", "format": "jsonl", "paths": ["*.jsonl"]})
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(RecipeError, match=r"sources\[2\] 'web_again' and 'web' both read .*web\.jsonl"):
        load_recipe(path)


def test_cli_resolves_relative_paths_against_the_working_directory(tmp_path, monkeypatch):
    path = write_recipe(tmp_path)
    raw = yaml.safe_load(path.read_text())
    raw["data_root"] = "/nonexistent"
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "r.yaml").write_text(yaml.safe_dump(raw))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["validate", "recipes/r.yaml", "--data-root", "."])
    assert result.exit_code == 0, result.output


def test_bundled_recipes_are_valid():
    full = load_recipe(RECIPES / "me-llama-13b.yaml", check_paths=False)
    assert full.mix.total_tokens == 129_000_000_000
    assert full.mix.shares == {"biomedical": 15, "clinical": 1, "general": 4}
    assert {s.name for s in full.sources} == {"pmc", "pubmed", "mimic3", "mimic4", "mimic_cxr", "redpajama"}
    assert load_recipe(RECIPES / "demo.yaml", check_paths=False).executor.kind == "local"


def test_cli_validate_reports_errors_and_exits_nonzero(tmp_path):
    runner = CliRunner()
    good = runner.invoke(app, ["validate", str(write_recipe(tmp_path))])
    assert good.exit_code == 0 and "ok" in good.output
    bad_recipe = write_recipe(tmp_path, mix={"total_tokens": 0, "shares": {"general": 1}})
    bad = runner.invoke(app, ["validate", str(bad_recipe)])
    assert bad.exit_code == 2
    assert "mix -> total_tokens" in bad.output


def test_filter_settings_override_the_defaults_per_domain_and_filter():
    from medmix.corpus.stages.language_filter import LanguageFilterStage
    from medmix.corpus.stages.quality_filter import DEFAULT_QUALITY_PROFILES, QualityFilterStage

    language = LanguageFilterStage(kind="language_filter", thresholds={"clinical": 0.3})
    assert language.thresholds == {"biomedical": 0.5, "clinical": 0.3, "general": 0.65}
    quality = QualityFilterStage(kind="quality_filter", profiles={"clinical": {"gopher_quality": {"min_doc_words": 9}},
                                                                  "general": {"c4": None}})
    clinical = quality.profiles["clinical"]
    assert clinical.gopher_quality == {**DEFAULT_QUALITY_PROFILES["clinical"]["gopher_quality"], "min_doc_words": 9}
    assert clinical.gopher_repetition == DEFAULT_QUALITY_PROFILES["clinical"]["gopher_repetition"]
    assert quality.profiles["general"].c4 is None and quality.profiles["general"].fineweb == {}
    assert quality.profiles["biomedical"].model_dump() == {"c4": None, "fineweb": None,
                                                          **DEFAULT_QUALITY_PROFILES["biomedical"]}
    with pytest.raises(Exception, match="clinical -> gopher_quality: unknown parameters"):
        QualityFilterStage(kind="quality_filter", profiles={"clinical": {"gopher_quality": {"min_words": 1}}})


def test_every_missing_path_is_listed_at_once(tmp_path):
    path = write_recipe(tmp_path)
    raw = yaml.safe_load(path.read_text())
    raw["sources"][0]["paths"] = ["gone/*.csv"]
    raw["sources"][1]["paths"] = ["web.jsonl", "missing/*.jsonl"]
    raw["stages"] = [{"kind": "phi", "model": "no_such_model.bin"}]
    path.write_text(yaml.safe_dump(raw))
    (tmp_path / "tokenizer.model").unlink()
    with pytest.raises(RecipeError) as error:
        load_recipe(path)
    lines = [line.removeprefix(f"{path}: ") for line in str(error.value).splitlines()]  # each line names the file
    assert len(lines) == 4 and lines[0].startswith("tokenizer -> path: ") and "tokenizer.model' is not a file" in lines[0]
    assert lines[1].startswith("sources[0] 'notes' -> paths[0]") and lines[2].startswith("sources[1] 'web' -> paths[1]")
    assert lines[3].startswith("stages[0] (phi) -> model")


def test_a_misspelled_stage_key_names_the_stage_kind_and_the_likely_key(tmp_path):
    path = write_recipe(tmp_path, stages=[{"kind": "length_filter"}, {"kind": "dedup", "threshhold": 0.8}])
    with pytest.raises(RecipeError, match=rf"^{re.escape(str(path))}: stages\[1\] \(dedup\) -> threshhold: Extra inputs are not permitted; "
                                          r"did you mean 'threshold'\?$"):
        load_recipe(path)


def test_a_misspelled_format_gets_the_likely_format(tmp_path):
    path = write_recipe(tmp_path)
    recipe = yaml.safe_load(path.read_text())
    recipe["sources"][1]["format"] = "jsonll"
    path.write_text(yaml.safe_dump(recipe))
    with pytest.raises(RecipeError, match=rf"^{re.escape(str(path))}: sources\[1\] 'web': Input tag 'jsonll' .*; did you mean 'jsonl'\?$"):
        load_recipe(path)


def test_a_key_in_the_wrong_section_says_where_it_goes(tmp_path):
    path = write_recipe(tmp_path)
    recipe = yaml.safe_load(path.read_text())
    recipe["seq_len"] = 512
    recipe["mix"]["threshhold"] = 0.8
    path.write_text(yaml.safe_dump(recipe))
    with pytest.raises(RecipeError) as error:
        load_recipe(path)
    assert f"{path}: seq_len: Extra inputs are not permitted; seq_len goes under shards" in str(error.value)
    assert f"{path}: mix -> threshhold: Extra inputs are not permitted; did you mean 'threshold' (under stages -> dedup" in str(error.value)


def test_invalid_yaml_is_one_line_naming_the_file_and_the_line(tmp_path):
    path = tmp_path / "recipe.yaml"
    path.write_text("name: x\n  output_dir: [\n")
    with pytest.raises(RecipeError) as error:
        load_recipe(path)
    assert re.fullmatch(rf"{re.escape(str(path))}: line 2, column \d+: not valid YAML: mapping values are not allowed here",
                        str(error.value))
