"""What a newcomer reads first: the version, every command's help, and tables that fit their terminal."""

import re

import pytest
from typer.testing import CliRunner

from medmix.cli import app


def described_part(line: str) -> str:
    """What is left of an option's help line without its names, its type and its [default: …]."""
    line = re.sub(r"^│ +(--[\w-]+(\s+--[\w-]+)?)\s+(-\w\s+)?([A-Z]+( RANGE \[[^\]]+\])?(?=\s))?", "", line)
    return re.sub(r"\[(default|required)[^\]]*\]", "", line).strip(" │")


def test_the_help_check_sees_a_missing_description():
    assert described_part("│ --text-key        TEXT  [default: text]      │") == ""
    assert described_part("│ --text-key        TEXT  field with the text [default: text] │") == "field with the text"
    assert described_part("│ --copies  INTEGER RANGE [x>=1]  copies of each note [default: 2] │") == "copies of each note"


def test_version():
    from importlib.metadata import version

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"medmix {version('medmix')}"


@pytest.mark.parametrize("command", ["validate", "build", "status", "demo", "scrub", "phi-eval", "phi-train", "audit", "eval",
                                     "train"])
def test_every_option_of_every_command_says_what_it_does(command):
    result = CliRunner().invoke(app, [command, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for line in result.output.splitlines():
        if re.match(r"^│ +--[a-z]", line) and "--help" not in line:
            described = described_part(line)
            assert described, f"{command}: an option without a description: {line.strip()}"
    # click's conventions, which the README's examples follow: `build RECIPE`, `--output-dir PATH`
    assert not re.search(r"\{[a-z_]+\}|<(bool|path|text)>", result.output), result.output


def test_the_demo_says_that_it_trains():
    assert "train" in CliRunner().invoke(app, ["demo", "--help"], terminal_width=200).output


def test_piped_output_keeps_table_columns_whole():
    from medmix.cli import console

    assert console.width == 200  # under pytest stdout is not a terminal, as when piped to a file or `less`


def test_an_unexpected_error_is_one_line_without_its_message(monkeypatch, capsys):
    import medmix.cli as cli

    def broken():
        raise KeyError("Jane Doe, MRN 1234567")  # a message may quote a record: it is not printed

    monkeypatch.setattr(cli, "app", broken)
    monkeypatch.setattr(cli.Session, "debug", False)
    with pytest.raises(SystemExit) as exit_:
        cli.entry()
    output = capsys.readouterr().out
    assert exit_.value.code == 1 and len(output.strip().splitlines()) == 1
    assert "KeyError at test_cli_help.py:" in output and "--debug" in output and "Jane" not in output
    monkeypatch.setattr(cli.Session, "debug", True)
    with pytest.raises(KeyError):
        cli.entry()


def test_tables_fold_their_cells_in_a_narrow_terminal_instead_of_cutting_them(monkeypatch):
    import io

    from rich.console import Console
    from rich.table import Table

    from medmix import cli

    out = io.StringIO()
    monkeypatch.setattr(cli, "console", Console(file=out, width=40))
    table = Table("stage", "source", "in", "kept")
    table.add_row("01_pubmed_versions", "mimic_cxr", "300 (137.7k)", "298 (137.3k)")
    cli.print_table(table)
    cells = "stage source in kept 01_pubmed_versions mimic_cxr 300 (137.7k) 298 (137.3k)"
    assert "…" not in out.getvalue()
    assert sorted(re.sub(r"[^\w().]", "", out.getvalue())) == sorted(re.sub(r"[^\w().]", "", cells))  # not a character lost
