"""The README and --help are a contract: every command is documented with an example, and every
transcript in the README is what the command really prints."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from bcecli.cli import cli
from tests.readme_transcripts import README, examples, python_failures, run

COMMANDS = cli.list_commands(click.Context(cli))


def test_the_commands() -> None:
    assert COMMANDS == ["bands", "check-init", "compare", "explain", "plot", "score"]


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help_with_an_example(runner: CliRunner, name: str) -> None:
    result = runner.invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Examples:" in result.stdout
    assert f"bce {name}" in result.stdout


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_is_in_the_readme(name: str) -> None:
    assert f"bce {name}" in README.read_text()


def test_readme_has_the_two_setup_commands() -> None:
    text = README.read_text()
    assert "pip install . && bce score sample_data/" in text
    assert "pip install -e '.[test]' && python -m pytest" in text


def test_ci_installs_as_the_readme_says() -> None:
    ci = (README.parent / ".ci" / "run").read_text()
    assert "pip install -e '.[test]'" in ci and "python -m pytest" in ci
    assert "python3 -m venv" in ci


@pytest.mark.parametrize("example", examples(README.read_text()), ids=lambda e: e.command[:60])
def test_readme_transcript(example: object) -> None:
    from tests.readme_transcripts import Example

    assert isinstance(example, Example)
    assert run(example.command) == example.expected


def test_every_flag_is_documented() -> None:
    from bcecli.core.flags import CATALOGUE

    text = README.read_text()
    for flag_id, (severity, _) in CATALOGUE.items():
        assert f"| `{flag_id}` | {severity.value} |" in text, flag_id


def test_completion_script_is_generated() -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    bce = Path(sys.executable).parent / "bce"
    env = dict(os.environ, _BCE_COMPLETE="bash_source")
    out = subprocess.run([str(bce)], env=env, capture_output=True, text=True, timeout=60)
    assert "_bce_completion" in out.stdout


def test_readme_python_examples_print_what_they_show() -> None:
    assert python_failures(README.read_text()) == ""


def test_readme_documents_the_python_api() -> None:
    text = README.read_text()
    for name in ("bcecli.score(", "bcecli.score_file(", "to_dict()", "bcecli.BceError"):
        assert name in text, name
