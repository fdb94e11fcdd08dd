"""README examples are real transcripts: ```console blocks whose ``$ `` lines are run and whose
other lines are the output they must print, and ```pycon blocks (the Python API) run as
doctests, one session for the whole README, in the repository's folder.

    python -m tests.readme_transcripts          # check
    python -m tests.readme_transcripts --update # rewrite console outputs after a deliberate change
"""

from __future__ import annotations

import doctest
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BLOCK = re.compile(r"```console\n(.*?)```", re.DOTALL)
PYTHON_BLOCK = re.compile(r"```pycon\n(.*?)```", re.DOTALL)
ENV = {"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb", "PYTHONHASHSEED": "0"}


@dataclass(frozen=True)
class Example:
    command: str
    expected: str


def examples(text: str) -> list[Example]:
    out = []
    for block in BLOCK.findall(text):
        command: str | None = None
        lines: list[str] = []
        for line in block.splitlines():
            if line.startswith("$ "):
                if command is not None:
                    out.append(Example(command, "\n".join(lines)))
                command, lines = line[2:], []
            else:
                lines.append(line)
        if command is not None:
            out.append(Example(command, "\n".join(lines)))
    return out


def run(command: str) -> str:
    env = dict(os.environ)
    env.update(ENV)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    proc = subprocess.run(
        ["bash", "-c", command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # interleaved as on a terminal
        text=True,
        timeout=120,
    )
    text = proc.stdout
    return "\n".join(line.rstrip() for line in text.rstrip("\n").splitlines())


def python_failures(text: str) -> str:
    """Run the README's Python examples as one doctest session (each block sees the names the
    blocks before it defined); what doctest reports for those that print something else."""
    source = "\n".join(PYTHON_BLOCK.findall(text))
    test = doctest.DocTestParser().get_doctest(source, {}, "README.md", str(README), 0)
    report: list[str] = []
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    cwd, path = os.getcwd(), os.environ.get("PATH", "")
    os.chdir(ROOT)
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + path
    try:
        runner.run(test, out=report.append)
    finally:
        os.chdir(cwd)
        os.environ["PATH"] = path
    assert test.examples, "no Python example found"
    return "".join(report)


def update() -> None:
    text = README.read_text()

    def fill(match: re.Match[str]) -> str:
        parts = []
        for ex in examples("```console\n" + match.group(1) + "```"):
            parts.append(f"$ {ex.command}")
            out = run(ex.command)
            if out:
                parts.append(out)
        return "```console\n" + "\n".join(parts) + "\n```"

    README.write_text(BLOCK.sub(fill, text))


if __name__ == "__main__":
    if "--update" in sys.argv:
        update()
    else:
        text = README.read_text()
        bad = [ex.command for ex in examples(text) if run(ex.command) != ex.expected]
        failed = python_failures(text)
        print("\n".join(bad) or "all transcripts match", failed or "all Python examples match")
        sys.exit(1 if bad or failed else 0)
