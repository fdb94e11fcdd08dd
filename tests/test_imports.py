"""What a run imports: never numpy or pandas for help, never pandas to score or write rows.

pandas costs 0.3 s of start-up, and some pyarrow calls import it behind the scenes (``pa.array``
of a numpy array, a Python value made into an arrow scalar), so each case runs in a fresh
interpreter and reads ``sys.modules`` at the end.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

PROBE = """
import sys
from bcecli.cli import cli
try:
    cli.main(sys.argv[1:], prog_name="bce", standalone_mode=False)
except BaseException as e:  # SystemExit, or click's Exit when a quality gate trips
    print("ENDED", type(e).__name__, file=sys.stderr)
print("MODULES", *(m for m in ("numpy", "pandas") if m in sys.modules), file=sys.stderr)
"""


def imported(args: list[str]) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120
    )
    lines = proc.stderr.splitlines()
    assert lines and lines[-1].startswith("MODULES"), proc.stderr
    assert not any("Traceback" in ln for ln in lines), proc.stderr
    return set(lines[-1].split()[1:])


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("imports")
    rng = np.random.default_rng(4)
    n = 80_000  # 2 MB of text: read in pieces, as large files are
    y = rng.integers(0, 2, n)
    p = rng.uniform(0.01, 0.99, n)
    words = np.where(y == 1, "yes", "no")
    lines = ["label,score", *(f"{w},{v!r}" for w, v in zip(words, p, strict=True)), "no,"]
    (d / "words.csv").write_text("\n".join(lines) + "\n")
    np.save(d / "p.npy", p)
    np.save(d / "y.npy", y.astype(float))
    return d


@pytest.mark.parametrize("args", [["--help"], ["bands"], ["score", "--help"]])
def test_help_imports_neither_numpy_nor_pandas(args: list[str]) -> None:
    assert imported(args) == set()


def test_a_command_imports_no_other_command(inputs: Path) -> None:
    """Each command's module (its options, its help) is loaded when it runs: `bce score` does
    not build `bce plot`, `bce explain` or `bce bands`, and --help lists all four."""
    code = (
        "import sys\n"
        "from bcecli.cli import cli\n"
        "try:\n"
        "    cli.main(sys.argv[1:], prog_name='bce', standalone_mode=False)\n"
        "finally:\n"
        "    print('COMMANDS', *sorted(m for m in sys.modules if m.startswith('bcecli.cli.')"
        " and m.rsplit('.', 1)[1] in ('score', 'plot', 'explain', 'bands')), file=sys.stderr)\n"
    )
    runs = {
        "score": ["score", str(inputs / "p.npy"), "--labels", str(inputs / "y.npy")],
        "help": ["--help"],
    }
    loaded = {}
    for name, args in runs.items():
        proc = subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
        )
        lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("COMMANDS")]
        assert lines, proc.stderr
        loaded[name] = lines[-1].split()[1:]
        if name == "help":
            assert all(f"  {c}" in proc.stdout for c in ("bands", "explain", "plot", "score"))
    assert loaded["score"] == ["bcecli.cli.score"]
    assert loaded["help"] == [f"bcecli.cli.{c}" for c in ("bands", "explain", "plot", "score")]


@pytest.mark.parametrize(
    "extra",
    [
        [],
        ["--per-sample", "--format", "jsonl"],
        ["--per-sample", "--format", "csv"],
        ["--reduction", "none", "--format", "json"],
    ],
)
def test_scoring_text_labels_and_writing_rows_do_not_import_pandas(
    inputs: Path, extra: list[str]
) -> None:
    assert imported(["score", str(inputs / "words.csv"), *extra]) == {"numpy"}
    npy = ["score", str(inputs / "p.npy"), "--labels", str(inputs / "y.npy"), *extra]
    assert imported(npy) == {"numpy"}


def test_text_read_in_pieces_does_not_import_pandas() -> None:
    # A large file is parsed in pieces by pyarrow.csv.read_csv, whose columns are chunked
    # arrays; ChunkedArray.to_numpy on text imported pandas.
    probe = (
        "import io, sys, pyarrow.csv as c\n"
        "from bcecli.readers import column_from_arrow\n"
        "table = c.read_csv(io.BytesIO(b'label\\nyes\\nno\\n\\n'))\n"
        "column = column_from_arrow(table.column('label'))\n"
        "print(type(column).__name__, 'pandas' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert proc.stdout.split() == ["TextColumn", "False"], proc.stderr


def test_import_bcecli_is_light() -> None:
    """The API's names load when first used: importing the package loads none of the heavy
    libraries (``bce --help`` imports it too)."""
    code = (
        "import sys, bcecli\n"
        "heavy = ('numpy', 'pandas', 'pyarrow', 'rich', 'click')\n"
        "print(*sorted(m for m in heavy if m in sys.modules))\n"
        "bcecli.Task\n"
        "print('numpy' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.split("\n")[:2] == ["", "False"], proc.stderr
