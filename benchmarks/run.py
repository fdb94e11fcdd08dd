#!/usr/bin/env python3
"""Benchmark harness for ``bce``: same-round ratios against anchors, peers and a baseline.

Every command runs as a fresh subprocess.  Within a scenario the commands are interleaved in
rounds (round 1: bce, anchor A, peer B; round 2: anchor A, peer B, bce; ...), and each
comparison is the median over rounds of ``bce time / other time`` *in the same round*, so a
noisy, shared machine slows both sides of a ratio alike.  Wall time is measured around
``Popen`` + ``os.wait4``; peak RSS is the child's ``ru_maxrss`` from ``wait4``.

Anchors are floors (a bare parse, an interpreter importing numpy); peers are what a user would
run instead of bce to get the mean loss (``peers/``: numpy, pandas, scikit-learn, polars,
duckdb), each checked to print bce's mean; ``--baseline`` runs another bce in the same rounds.

Examples::

    python benchmarks/run.py                       # every scenario whose data exists, 5 rounds
    python benchmarks/run.py --only csv10m,small --rounds 3
    python benchmarks/run.py --baseline OLD_VENV/bin/bce
    python benchmarks/run.py --markdown > results.md
    python benchmarks/run.py --list                # scenarios and their command lines
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import math
import os
import platform
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PEERS = HERE / "peers"
MAKE_DATA = "python benchmarks/make_data.py"

BCE_OK_CODES = (0, 1)  # 1 = a quality gate tripped: the run and its report are complete
# A peer's mean against bce's: the peers clip at 1e-15, write log(1 - p) where bce takes
# log1p(-p) and sum in their own order; on this data (no prediction within 1e-6 of 0 or 1)
# none of that comes near 1e-9, and a peer that scores something else is far outside it.
PEER_RTOL = 1e-9
# The pre-redesign commit against the current one: the golden tests' tolerance.
BASELINE_RTOL = 1e-12
BASELINE_MAX = 1.3  # bce time / the pre-redesign bce's time, same round
PEER_MAX = 1.25  # bce time / the faster of polars and duckdb, same round
RSS_50M_MAX_MB = 400.0
RSS_GROWTH_MAX = 1.2  # peak RSS at 50M rows / peak RSS at 10M rows

PASS, FAIL, INFO, SKIP, FAILED = "PASS", "FAIL", "-", "SKIPPED", "FAILED"


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Command:
    key: str  # short name used in the tables
    argv: tuple[str, ...]
    is_bce: bool = False
    # How the command reports the mean loss, checked against bce's: "json" (a bce JSON report's
    # mean_loss), "line" (the last line of stdout is repr(mean)); None: it does not.
    mean: str | None = None
    mean_rtol: float = PEER_RTOL  # 0: identical to bce's
    needs_module: str | None = None  # a peer's library: without it the command is left out

    def shell(self) -> str:
        return shlex.join(self.argv)


@dataclass(frozen=True)
class Comparison:
    # Keys of the commands bce is compared with; with several, each round's fastest of them.
    anchors: tuple[str, ...]
    max_ratio: float | None  # target: bce time / anchor time <= max_ratio (None: report only)
    target_text: str = ""
    strict: bool = False  # the ratio must be below max_ratio (bce faster)

    @property
    def label(self) -> str:
        if len(self.anchors) == 1:
            return self.anchors[0]
        return "faster of " + " and ".join(self.anchors)


def at_most(anchor: str, ratio: float) -> Comparison:
    return Comparison((anchor,), ratio, f"<= {ratio:g}x")


def faster_than(anchor: str) -> Comparison:
    return Comparison((anchor,), 1.0, "< 1x (bce faster)", strict=True)


def report_only(*anchors: str) -> Comparison:
    return Comparison(anchors, None, "report only")


@dataclass
class Scenario:
    name: str
    what: str
    inputs: tuple[str, ...]  # paths relative to the data directory
    make_flags: str  # make_data.py flags that create the inputs
    commands: list[Command]
    comparisons: list[Comparison] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rss_target_mb: float | None = None
    throughput: bool = False
    throughput_inputs: tuple[str, ...] = ()  # the files the throughput is of (default: inputs)
    # Scoring throughput: bytes over (bce's time - this command's), measured in the same round;
    # the command is bce on a tiny file of the same format, i.e. bce's start-up.
    startup_command: str | None = None
    min_scoring_gbps: float | None = None
    # An optional module bce needs for this scenario, and what to pip install for it: without
    # it the scenario is skipped with a note, as a missing anchor is.
    needs_module: str | None = None
    needs_install: str | None = None

    def absent_module(self) -> str | None:
        """Why the scenario cannot run with this Python (a module bce needs for it is not
        installed), or None."""
        if self.needs_module is None or importlib.util.find_spec(self.needs_module) is not None:
            return None
        return (
            f"{self.needs_module} is not installed for {sys.executable} "
            f"(pip install {self.needs_install} to include it)"
        )


# What a time is: "wall" (around Popen..wait4) or "cpu" (the child's user + system time, its
# waited-for children's included). On a machine shared with other work, CPU time moves less
# with the others' load than wall time does; but a command that runs on several cores (polars,
# duckdb, bce's second thread) shows the sum of them, so its ratios mean something else.
CLOCK = "wall"


@dataclass
class Sample:
    wall: float  # seconds
    rss_mb: float  # MiB
    code: int
    stdout: str
    stderr: str
    cpu: float = math.nan  # seconds

    @property
    def seconds(self) -> float:
        """The time under ``CLOCK``."""
        return self.cpu if CLOCK == "cpu" else self.wall


@dataclass
class CommandResult:
    command: Command
    samples: dict[int, Sample] = field(default_factory=dict)  # round -> sample
    failure: str | None = None

    def walls(self) -> list[float]:
        return [s.seconds for s in self.samples.values()]

    def median_wall(self) -> float:
        return statistics.median(self.walls()) if self.samples else math.nan

    def median_rss(self) -> float:
        return (
            statistics.median(s.rss_mb for s in self.samples.values()) if self.samples else math.nan
        )


@dataclass
class Check:
    scenario: str
    name: str
    value: str
    target: str
    result: str


@dataclass
class ScenarioResult:
    scenario: Scenario
    results: dict[str, CommandResult]
    checks: list[Check]


# --------------------------------------------------------------------------- scenarios


def py_c(python: str, code: str) -> tuple[str, ...]:
    return (python, "-c", code)


def build_scenarios(data: Path, bce: str, python: str, baseline: str | None) -> list[Scenario]:
    """Every scenario; with ``baseline`` (another bce executable: the pre-redesign commit's),
    each scenario's bce command runs with it too, in the same rounds."""

    def f(name: str) -> str:
        return str(data / name)

    def arrow_parse(name: str) -> Command:
        code = f"import pyarrow.csv as c; c.read_csv({f(name)!r})"
        return Command("pyarrow-parse", py_c(python, code))

    def bce_cmd(*args: str) -> Command:
        json_out = args[-2:] == ("--format", "json")
        return Command("bce", (bce, *args), is_bce=True, mean="json" if json_out else None)

    def peer(key: str, script: str, module: str, task: str, *files: str) -> Command:
        argv = (python, str(PEERS / script), task, *map(f, files))
        return Command(key, argv, mean="line", needs_module=module)

    def file_peers(task: str, name: str) -> list[Command]:
        """The peers on a CSV or Parquet file."""
        return [
            peer("pandas+numpy", "pandas_numpy.py", "pandas", task, name),
            peer("pandas+sklearn", "pandas_sklearn.py", "sklearn", task, name),
            peer("polars", "polars_bce.py", "polars", task, name),
            peer("duckdb", "duckdb_bce.py", "duckdb", task, name),
        ]

    # The bars against the peers: faster than the scripts, close to the faster query engine.
    near_engines = Comparison(("polars", "duckdb"), PEER_MAX, f"<= {PEER_MAX:g}x")
    file_cmp = [faster_than("pandas+numpy"), faster_than("pandas+sklearn"), near_engines]

    csv10 = "binary_10M_17d.csv"
    csv50 = "binary_50M_17d.csv"
    csv6 = "binary_10M_6d.csv"
    multi = "multiclass_5M.csv"
    npy_preds, npy_labels = "binary_10M_preds.npy", "binary_10M_labels.npy"
    npy1k_preds, npy1k_labels = "binary_1k_preds.npy", "binary_1k_labels.npy"
    parquet = "binary_10M.parquet"
    small = "binary_1k.csv"
    partitioned = "partitioned_20M"
    part_glob = str(data / partitioned / "*.parquet")

    scenarios = [
        Scenario(
            "csv10m",
            "binary CSV, 10M rows, 17 significant digits",
            (csv10,),
            "--sizes 10M --kinds csv",
            [bce_cmd("score", f(csv10), "--format", "json"), arrow_parse(csv10)]
            + file_peers("binary", csv10),
            [
                at_most("pyarrow-parse", 1.5),
                # the project's older bars, stricter than "faster"
                at_most("pandas+numpy", 0.7),
                Comparison(("pandas+sklearn",), 0.25, "<= 0.25x (4x faster)"),
                near_engines,
            ],
        ),
        Scenario(
            "csv50m",
            "binary CSV, 50M rows, 17 significant digits (peak RSS must stay flat)",
            (csv50,),
            "--sizes 50M --kinds csv",
            [
                bce_cmd("score", f(csv50), "--format", "json"),
                arrow_parse(csv50),
                peer("polars", "polars_bce.py", "polars", "binary", csv50),
                peer("duckdb", "duckdb_bce.py", "duckdb", "binary", csv50),
            ],
            [at_most("pyarrow-parse", 1.3), report_only("polars", "duckdb")],
            rss_target_mb=RSS_50M_MAX_MB,
        ),
        Scenario(
            "multiclass5m",
            "10-class CSV, 5M rows, %.8g probabilities, sparse labels",
            (multi,),
            "--kinds multiclass",
            [bce_cmd("score", f(multi), "--format", "json"), arrow_parse(multi)]
            + file_peers("sparse", multi),
            [at_most("pyarrow-parse", 1.5), *file_cmp],
        ),
        Scenario(
            "npy10m",
            "NPY pair (float64 labels + predictions), 10M rows",
            (npy_preds, npy_labels, npy1k_preds, npy1k_labels),
            "--kinds npy",
            [
                bce_cmd("score", f(npy_preds), "--labels", f(npy_labels), "--format", "json"),
                Command("import-numpy", py_c(python, "import numpy")),
                Command(
                    "bce-1k",
                    (bce, "score", f(npy1k_preds), "--labels", f(npy1k_labels), "--format", "json"),
                    is_bce=True,
                ),
                peer("numpy", "numpy_bce.py", "numpy", "binary", npy_preds, npy_labels),
                peer(
                    "numpy+sklearn", "pandas_sklearn.py", "sklearn", "binary", npy_preds, npy_labels
                ),
                peer("polars", "polars_bce.py", "polars", "binary", npy_preds, npy_labels),
                peer("duckdb", "duckdb_bce.py", "duckdb", "binary", npy_preds, npy_labels),
            ],
            [
                at_most("import-numpy", 2.0),
                faster_than("numpy"),
                faster_than("numpy+sklearn"),
                near_engines,
            ],
            throughput=True,
            throughput_inputs=(npy_preds, npy_labels),
            startup_command="bce-1k",
            min_scoring_gbps=2.0,
        ),
        Scenario(
            "parquet10m",
            "Parquet (y_true, y_pred float64), 10M rows in 1M-row groups",
            (parquet,),
            "--kinds parquet",
            [
                bce_cmd("score", f(parquet), "--format", "json"),
                Command(
                    "parquet-read",
                    py_c(python, f"import pyarrow.parquet as pq; pq.read_table({f(parquet)!r})"),
                ),
                *file_peers("binary", parquet),
            ],
            [report_only("parquet-read"), *file_cmp],
        ),
        Scenario(
            "help",
            "start-up: bce --help",
            (),
            "",
            [
                bce_cmd("--help"),
                Command("import-cli-deps", py_c(python, "import click, rich.console, rich.table")),
            ],
            [at_most("import-cli-deps", 1.3)],
        ),
        Scenario(
            "small",
            "start-up: scoring a 1,000-row CSV",
            (small,),
            "--kinds small",
            [
                bce_cmd("score", f(small), "--format", "json"),
                Command("import-stack", py_c(python, "import numpy, pandas, rich, click")),
            ],
            [at_most("import-stack", 1.3)],
        ),
        Scenario(
            "dask20m",
            "20 Parquet partitions, 20M rows: --engine dask (a local cluster of 2 worker "
            "processes, started by bce) against the local engine on the same glob",
            (partitioned,),
            "--partitioned",
            [
                bce_cmd("score", part_glob, "--engine", "dask", "--format", "json"),
                Command(
                    "bce-local",
                    (bce, "score", part_glob, "--raw"),
                    is_bce=True,
                    mean="line",
                    mean_rtol=0.0,
                ),
            ],
            [report_only("bce-local")],
            needs_module="distributed",
            needs_install="'dask[dataframe]' distributed",
        ),
        Scenario(
            "csv10m_6d",
            "binary CSV, 10M rows, 6 significant digits",
            (csv6,),
            "--sizes 10M --kinds csv",
            [bce_cmd("score", f(csv6), "--format", "json"), arrow_parse(csv6)],
            [report_only("pyarrow-parse")],
        ),
    ]
    for sc in scenarios:
        with_peers_present(sc, python)
        if baseline is not None and sc.needs_module is None:
            with_baseline(sc, baseline)
    return scenarios


def with_peers_present(sc: Scenario, python: str) -> None:
    """Leave out the peers whose library the harness's Python lacks, with a note."""
    for c in list(sc.commands):
        if c.needs_module is not None and importlib.util.find_spec(c.needs_module) is None:
            sc.commands.remove(c)
            sc.notes.append(
                f"{c.key} peer skipped: {c.needs_module} is not installed for {python} "
                "(pip install -e '.[bench]' to include it)"
            )


def with_baseline(sc: Scenario, baseline: str) -> None:
    """Run the scenario's bce command with ``baseline`` too, right after it in each round, and
    hold bce to BASELINE_MAX of it. (The dask scenario is left out: the baseline's virtualenv
    need not have Dask.)"""
    bce = next(c for c in sc.commands if c.key == "bce")
    twin = Command(
        "baseline",
        (baseline, *bce.argv[1:]),
        is_bce=True,
        mean=bce.mean,
        mean_rtol=BASELINE_RTOL,
    )
    sc.commands.insert(sc.commands.index(bce) + 1, twin)
    sc.comparisons.insert(
        0, Comparison(("baseline",), BASELINE_MAX, f"<= {BASELINE_MAX:g}x (pre-redesign)")
    )


# --------------------------------------------------------------------------- running


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:300] if lines else "(no output)"


def _kill_group(pid: int) -> None:
    """SIGKILL the process group led by our child ``pid`` (started with a new session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def child_env(pycache: Path | None) -> dict[str, str]:
    """The children's environment.

    With ``pycache``, bytecode is cached there (``PYTHONPYCACHEPREFIX``) even when
    ``PYTHONDONTWRITEBYTECODE`` is set: an editable install under that variable recompiles
    bce's own modules on every start (about 0.1 s), which a user's installed wheel does not.
    The same environment is used for bce and the anchors.
    """
    env = dict(os.environ)
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def run_once(argv: Sequence[str], timeout: float, env: dict[str, str]) -> Sample:
    """Run one child; wall time around Popen..wait4, peak RSS from the child's rusage."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        try:
            # Own process group, so a timeout or Ctrl-C ends the child's children too.
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            return Sample(math.nan, math.nan, 127, "", f"cannot start {argv[0]}: {exc}")
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            _kill_group(proc.pid)

        timer = threading.Timer(timeout, kill)
        timer.start()
        reaped = False
        try:
            _, status, usage = os.wait4(proc.pid, 0)
            reaped = True
        finally:
            timer.cancel()
            if not reaped:  # interrupted (Ctrl-C): do not leave the child behind
                _kill_group(proc.pid)
                proc.wait()
        wall = time.perf_counter() - t0
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    if timed_out.is_set():
        stderr += f"\ntimed out after {timeout:g} s"
    cpu = usage.ru_utime + usage.ru_stime
    return Sample(wall, usage.ru_maxrss / 1024.0, code, stdout, stderr, cpu)


def failure_of(cmd: Command, sample: Sample) -> str | None:
    """None when the run counts, else why not.

    bce's exit 1 (a quality gate tripped) counts only with a report on stdout and no Python
    traceback on stderr: an uncaught exception also exits 1.
    """
    if sample.code == 0:
        return None
    if (
        cmd.is_bce
        and sample.code in BCE_OK_CODES
        and sample.stdout.strip()
        and "Traceback (most recent call last)" not in sample.stderr
    ):
        return None
    how = f"killed by signal {-sample.code}" if sample.code < 0 else f"exit {sample.code}"
    return f"{how}: {_last_line(sample.stderr)}"


def prime_cache(paths: Iterable[Path]) -> None:
    """Read the inputs once so that round 1 does not pay for the disk alone."""
    files: list[Path] = []
    for p in paths:
        files.extend(sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p])
    for path in files:
        with open(path, "rb", buffering=0) as fh:
            while fh.read(1 << 23):
                pass


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# Busy threshold: the share of the machine's CPU time other processes may take during a run
# before the report warns that its ratios are noisy.
OTHERS_BUSY_SHARE = 0.10


def machine_cpu_seconds() -> float | None:
    """CPU time the machine has spent busy since boot, all cores together (Linux's
    /proc/stat; steal time, taken by other virtual machines, counts as busy); None elsewhere."""
    try:
        with open("/proc/stat") as fh:
            fields = fh.readline().split()
    except OSError:
        return None
    if len(fields) < 9 or fields[0] != "cpu":
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """CPU time of the harness and of every child it has reaped (with their own children)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


@dataclass
class CpuWatch:
    """The share of the machine's CPU time that other processes took while the harness ran.

    The load average cannot tell: bce and the anchors keep both cores busy themselves, so it
    always ends a long run above the number of cores. This subtracts the harness's own CPU time
    (its children's included) from the whole machine's."""

    wall: float
    machine: float | None
    own: float

    @classmethod
    def start(cls) -> CpuWatch:
        return cls(time.monotonic(), machine_cpu_seconds(), own_cpu_seconds())

    def others_share(self) -> float | None:
        machine = machine_cpu_seconds()
        elapsed = time.monotonic() - self.wall
        if machine is None or self.machine is None or elapsed <= 0:
            return None
        others = (machine - self.machine) - (own_cpu_seconds() - self.own)
        return max(0.0, others) / (elapsed * (os.cpu_count() or 1))


def run_scenario(
    sc: Scenario, data: Path, rounds: int, warmup: int, timeout: float, env: dict[str, str]
) -> ScenarioResult:
    results = {c.key: CommandResult(c) for c in sc.commands}
    log(f"\n== {sc.name}: {sc.what}")
    for c in sc.commands:
        log(f"   {c.key:16s} {c.shell()}")
    for note in sc.notes:
        log(f"   note: {note}")
    prime_cache(data / name for name in sc.inputs)

    for r in range(-warmup, rounds):
        label = f"warm-up {r + warmup + 1}/{warmup}" if r < 0 else f"round {r + 1}/{rounds}"
        parts = []
        # Each round starts one command later, so that no command always follows the same one
        # (a peer that leaves the page cache or the allocator in some state, say).
        start = (r + warmup) % len(sc.commands)
        for c in sc.commands[start:] + sc.commands[:start]:
            res = results[c.key]
            if res.failure is not None:
                continue
            sample = run_once(c.argv, timeout, env)
            res.failure = failure_of(c, sample)
            if res.failure is not None:
                parts.append(f"{c.key} FAILED ({res.failure})")
                continue
            if r >= 0:
                res.samples[r] = sample
            parts.append(f"{c.key} {sample.seconds:.3f}s {sample.rss_mb:.0f}MB")
        log(f"   {label}: " + "; ".join(parts))
    return ScenarioResult(sc, results, scenario_checks(sc, results, data))


# --------------------------------------------------------------------------- checks


def _verdict(ok: bool) -> str:
    return PASS if ok else FAIL


def find_number(obj: Any, key: str) -> float | None:
    """Breadth-first search of a JSON document for a numeric ``key`` (top level wins)."""
    queue: list[Any] = [obj]
    while queue:
        cur = queue.pop(0)
        if isinstance(cur, dict):
            val = cur.get(key)
            if isinstance(val, int | float) and not isinstance(val, bool):
                return float(val)
            queue.extend(cur.values())
        elif isinstance(cur, list):
            queue.extend(cur)
    return None


def same_round_ratios(a: CommandResult, others: Sequence[CommandResult]) -> list[float]:
    """Per round, a's time over the fastest of ``others`` in that round."""
    rounds = sorted(set(a.samples).intersection(*(set(o.samples) for o in others)))
    return [a.samples[r].seconds / min(o.samples[r].seconds for o in others) for r in rounds]


def scenario_checks(sc: Scenario, results: dict[str, CommandResult], data: Path) -> list[Check]:
    checks: list[Check] = []
    bce = results["bce"]

    def add(name: str, value: str, target: str, result: str) -> None:
        checks.append(Check(sc.name, name, value, target, result))

    for cmp in sc.comparisons:
        name = f"bce / {cmp.label} (same round)"
        anchors = [results.get(key) for key in cmp.anchors]
        missing = [key for key, res in zip(cmp.anchors, anchors, strict=True) if res is None]
        if missing:
            add(name, f"{', '.join(missing)} not run", cmp.target_text, SKIP)
            continue
        failed = [r.command.key for r in (bce, *anchors) if r is not None and r.failure]
        if failed:
            add(name, f"{', '.join(failed)} failed", cmp.target_text, FAILED)
            continue
        ratios = same_round_ratios(bce, [r for r in anchors if r is not None])
        med = statistics.median(ratios)
        value = f"{med:.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"
        if cmp.max_ratio is None:
            result = INFO
        else:
            result = _verdict(med < cmp.max_ratio if cmp.strict else med <= cmp.max_ratio)
        add(name, value, cmp.target_text, result)

    checks.extend(mean_checks(sc.name, results))

    if sc.rss_target_mb is not None:
        target = f"<= {sc.rss_target_mb:.0f} MB"
        if bce.failure is not None:
            add("bce peak RSS", "bce failed", target, FAILED)
        else:
            rss = bce.median_rss()
            add("bce peak RSS", f"{rss:.0f} MB", target, _verdict(rss <= sc.rss_target_mb))

    if sc.throughput:
        total = sum((data / name).stat().st_size for name in sc.throughput_inputs or sc.inputs)
        if bce.failure is not None:
            add("input throughput (end-to-end)", "bce failed", "report only", FAILED)
        else:
            gbps = total / bce.median_wall() / 1e9
            value = f"{gbps:.2f} GB/s ({total / 1e6:.0f} MB / {bce.median_wall():.3f} s)"
            add("input throughput (end-to-end)", value, "report only", INFO)
        if sc.startup_command is not None:
            checks.append(_scoring_throughput(sc, bce, results[sc.startup_command], total))
    return checks


def _scoring_throughput(
    sc: Scenario, bce: CommandResult, startup: CommandResult, total: int
) -> Check:
    """Input bytes over the time bce spends beyond its start-up: per round, bce's wall time
    minus that of bce on a 1,000-row file of the same format; the median over rounds."""
    name = f"scoring throughput (minus {sc.startup_command})"
    target = "report only" if sc.min_scoring_gbps is None else f">= {sc.min_scoring_gbps:g} GB/s"
    if bce.failure is not None or startup.failure is not None:
        return Check(sc.name, name, "a command failed", target, FAILED)
    rounds = sorted(set(bce.samples) & set(startup.samples))
    spans = [bce.samples[r].seconds - startup.samples[r].seconds for r in rounds]
    span = statistics.median(spans)
    gbps = total / span / 1e9 if span > 0 else math.inf
    value = f"{gbps:.2f} GB/s ({total / 1e6:.0f} MB / {span:.3f} s)"
    if sc.min_scoring_gbps is None:
        return Check(sc.name, name, value, target, INFO)
    return Check(sc.name, name, value, target, _verdict(gbps >= sc.min_scoring_gbps))


def reported_mean(cmd: Command, sample: Sample) -> float | str:
    """The mean loss a command printed, or why there is none."""
    if cmd.mean == "json":
        try:
            value = find_number(json.loads(sample.stdout), "mean_loss")
        except json.JSONDecodeError as exc:
            return f"output is not JSON ({exc.msg})"
        return "no mean_loss in the JSON" if value is None else value
    try:
        return float(_last_line(sample.stdout))
    except ValueError:
        return "printed no number"


def mean_checks(scenario: str, results: dict[str, CommandResult]) -> list[Check]:
    """bce's mean loss against that of every other command that reports one, each to its
    command's tolerance; and bce's own, the same in every round. A peer that computes
    something else cannot look fast."""
    checks: list[Check] = []
    others = [r for r in results.values() if r.command.mean and r.command.key != "bce"]
    bce = results["bce"]
    if not others or bce.command.mean is None:
        return checks
    bce_mean: float | str = "bce failed"
    if bce.failure is None:
        means = [reported_mean(bce.command, s) for _, s in sorted(bce.samples.items())]
        bce_mean = means[0]
        if all(isinstance(m, float) for m in means):
            same = len({repr(m) for m in means}) == 1
            value = f"{len(means)} rounds, {len({repr(m) for m in means})} distinct"
            checks.append(
                Check(scenario, "bce mean_loss every round", value, "identical", _verdict(same))
            )
    for res in others:
        rtol = res.command.mean_rtol
        target = f"rel. diff <= {rtol:g}" if rtol else "identical"
        name = f"mean_loss vs {res.command.key}"
        if res.failure is not None:
            checks.append(Check(scenario, name, f"{res.command.key} failed", target, FAILED))
            continue
        theirs = reported_mean(res.command, next(iter(res.samples.values())))
        if isinstance(theirs, str) or isinstance(bce_mean, str):
            why = f"{res.command.key} {theirs}" if isinstance(theirs, str) else f"bce: {bce_mean}"
            checks.append(Check(scenario, name, why, target, FAILED))
            continue
        scale = max(abs(bce_mean), abs(theirs))
        rel = abs(bce_mean - theirs) / scale if scale else 0.0
        value = f"{bce_mean!r} vs {theirs!r} (rel. {rel:.1e})"
        checks.append(Check(scenario, name, value, target, _verdict(rel <= rtol)))
    return checks


def cross_checks(done: dict[str, ScenarioResult]) -> list[Check]:
    """Checks that need two scenarios of the same run: the 50M-row CSV's peak RSS against the
    10M-row one's, as a ratio (the bar) and as bytes per added row (bce's and, where it ran,
    the baseline's: a ratio also moves when the smaller run gets leaner)."""
    if "csv50m" not in done:
        return []
    name = "bce peak RSS 50M / 10M"
    target = f"<= {RSS_GROWTH_MAX:g}"
    if "csv10m" not in done:
        return [Check("csv50m", name, "needs csv10m in the same run", target, SKIP)]
    checks: list[Check] = []
    for key in ("bce", "baseline"):
        big, small = done["csv50m"].results.get(key), done["csv10m"].results.get(key)
        if big is None or small is None:
            continue
        if big.failure is not None or small.failure is not None:
            checks.append(
                Check("csv50m", f"{key} peak RSS 50M vs 10M", f"{key} failed", "", FAILED)
            )
            continue
        r50, r10 = big.median_rss(), small.median_rss()
        if key == "bce":
            ratio = r50 / r10
            value = f"{ratio:.2f} ({r50:.0f} MB / {r10:.0f} MB)"
            checks.append(Check("csv50m", name, value, target, _verdict(ratio <= RSS_GROWTH_MAX)))
        per_row = (r50 - r10) * 2**20 / (50e6 - 10e6)
        value = f"{r50 - r10:+.0f} MB ({per_row:.2f} bytes a row)"
        checks.append(
            Check("csv50m", f"{key} peak RSS growth 10M -> 50M rows", value, "report only", INFO)
        )
    return checks


# --------------------------------------------------------------------------- output


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]], markdown: bool) -> str:
    if markdown:

        def line(cells: Sequence[str]) -> str:
            return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

        return "\n".join([line(headers), line(["---"] * len(headers)), *map(line, rows)])
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=True)]
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    out.append("  ".join("-" * w for w in widths))
    for row in rows:
        out.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(out)


# The ratio table: per scenario, bce's time over each column's command in the same round. A
# column names the keys it may show: "any" takes the first the scenario has; "all" takes each
# round's fastest of them, and needs them all.
RATIO_COLUMNS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("baseline", "any", ("baseline",)),
    ("numpy script", "any", ("numpy", "pandas+numpy")),
    ("sklearn log_loss", "any", ("numpy+sklearn", "pandas+sklearn")),
    ("polars", "any", ("polars",)),
    ("duckdb", "any", ("duckdb",)),
    ("faster of polars, duckdb", "all", ("polars", "duckdb")),
)


TITLE = (
    "bce's time over each other command's, same round (medians); "
    "a (baseline) row gives the baseline's"
)


def ratio_rows(done: Iterable[ScenarioResult]) -> list[list[str]]:
    """A row per scenario for bce, and one for the baseline where it ran: whether the
    baseline met a bar tells a regression from a gap that was there before."""
    rows = []
    for sr in done:
        res = sr.results
        for subject in ("bce", "baseline"):
            if subject not in res:
                continue
            me = res[subject]
            name = sr.scenario.name if subject == "bce" else f"{sr.scenario.name} (baseline)"
            if me.failure is not None:
                rows.append([name, "FAILED", "", *("" for _ in RATIO_COLUMNS)])
                continue
            cells = [name, f"{me.median_wall():.3f}", f"{me.median_rss():.0f}"]
            for _, how, keys in RATIO_COLUMNS:
                present = [res[k] for k in keys if k in res and k != subject]
                wanted = 1 if how == "any" else len(keys)
                others = present[:1] if how == "any" else present
                if len(others) < wanted:
                    cells.append("")
                elif any(o.failure is not None for o in others):
                    cells.append("failed")
                else:
                    cells.append(f"{statistics.median(same_round_ratios(me, others)):.2f}x")
            rows.append(cells)
    return rows


def timing_rows(done: Iterable[ScenarioResult]) -> list[list[str]]:
    rows = []
    for sr in done:
        for res in sr.results.values():
            if res.failure is not None:
                note = res.failure if len(res.failure) <= 100 else res.failure[:99] + "..."
                cells = ["FAILED", "", "", "", note]
            else:
                walls = res.walls()
                codes = sorted({s.code for s in res.samples.values()})
                cells = [
                    f"{res.median_wall():.3f}",
                    f"{min(walls):.3f}-{max(walls):.3f}",
                    f"{res.median_rss():.0f}",
                    str(len(walls)),
                    "exit " + ",".join(map(str, codes)),
                ]
            rows.append([sr.scenario.name, res.command.key, *cells])
    return rows


def report(
    done: dict[str, ScenarioResult],
    skipped: list[str],
    checks: list[Check],
    args: argparse.Namespace,
    load: tuple[tuple[float, ...], tuple[float, ...]],
    others: float | None = None,
) -> str:
    md = args.markdown
    cpu = (
        f"load avg {load[0][0]:.2f} before / {load[1][0]:.2f} after"
        if others is None
        else f"load avg {load[0][0]:.2f} before, other processes {others:.0%} of the CPU during it"
    )
    head = (
        f"bce benchmarks: {args.rounds} rounds (+{args.warmup} warm-up), medians of {CLOCK} "
        "time; "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, {cpu}; "
        f"bytecode cache {'off' if args.no_pycache else 'on'}; "
        f"{time.strftime('%Y-%m-%d %H:%M')}"
    )
    parts = [head, ""]
    if done:
        parts += [
            TITLE if not md else f"**{TITLE}**",
            "",
            render_table(
                ["scenario", f"{CLOCK} s", "peak RSS MB", *(t for t, _, _ in RATIO_COLUMNS)],
                ratio_rows(done.values()),
                md,
            ),
            "",
            "Timings" if not md else "**Timings**",
            "",
            render_table(
                ["scenario", "command", f"{CLOCK} s", "min-max s", "peak RSS MB", "runs", "note"],
                timing_rows(done.values()),
                md,
            ),
            "",
            "Checks" if not md else "**Checks**",
            "",
            render_table(
                ["scenario", "check", "value", "target", "result"],
                [[c.scenario, c.name, c.value, c.target, c.result] for c in checks],
                md,
            ),
        ]
    notes = [n for sr in done.values() for n in sr.scenario.notes] + skipped
    cores = os.cpu_count() or 1
    busiest = max(load[0][0], load[1][0])
    if others is not None and others > OTHERS_BUSY_SHARE:
        notes.append(
            f"the machine was busy (other processes took {others:.0%} of its CPU time during "
            "the run): even same-round ratios are noisy; re-run when it is quieter"
        )
    elif others is None and busiest > cores:
        notes.append(
            f"the machine was busy (load average up to {busiest:.1f} on {cores} cores): "
            "even same-round ratios are noisy; re-run when it is quieter"
        )
    if notes:
        parts += ["", *(f"- {n}" if md else f"note: {n}" for n in notes)]
    return "\n".join(parts)


def dump_json(path: Path, done: dict[str, ScenarioResult], checks: list[Check]) -> None:
    doc = {
        "scenarios": {
            name: {
                key: {
                    "argv": list(res.command.argv),
                    "failure": res.failure,
                    "samples": [
                        {
                            "round": r,
                            "wall_s": s.wall,
                            "cpu_s": s.cpu,
                            "peak_rss_mb": s.rss_mb,
                            "exit": s.code,
                        }
                        for r, s in sorted(res.samples.items())
                    ],
                }
                for key, res in sr.results.items()
            }
            for name, sr in done.items()
        },
        "checks": [vars(c) for c in checks],
    }
    path.write_text(json.dumps(doc, indent=2) + "\n")


# --------------------------------------------------------------------------- CLI


def default_bce() -> str:
    beside = Path(sys.executable).parent / "bce"
    if beside.exists():
        return str(beside)
    return shutil.which("bce") or str(beside)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description="Benchmark bce against anchor processes, as same-round ratios.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--rounds", type=int, default=5, help="measured rounds per scenario")
    p.add_argument(
        "--warmup", type=int, default=1, help="unmeasured rounds run first in each scenario"
    )
    p.add_argument("--only", help="comma-separated scenario names (default: all)")
    p.add_argument("--data", type=Path, default=HERE / "data", help="data directory")
    p.add_argument("--bce", default=default_bce(), help="the bce executable")
    p.add_argument(
        "--baseline",
        metavar="BCE_EXECUTABLE",
        help="another bce (say, a virtualenv of the pre-redesign commit) to run beside --bce "
        f"in the same rounds; bce must stay within {BASELINE_MAX:g}x of its time",
    )
    p.add_argument("--markdown", action="store_true", help="print markdown tables")
    p.add_argument("--json", type=Path, help="also write the raw samples to this file")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds before a child is killed")
    p.add_argument(
        "--no-pycache",
        action="store_true",
        help="run the children in the unchanged environment (default: give them a bytecode "
        "cache in DATA/.pycache, even under PYTHONDONTWRITEBYTECODE)",
    )
    p.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="time each command by wall time (default) or by its CPU time, user + system "
        "(steadier on a shared machine; a command on several cores shows their sum)",
    )
    p.add_argument("--list", action="store_true", help="list scenarios and commands, run nothing")
    p.add_argument(
        "--check",
        action="store_true",
        help="exit 1 when a target fails or a command fails (default: exit 0)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    global CLOCK
    args = build_parser().parse_args(argv)
    CLOCK = args.clock
    if args.rounds < 1 or args.warmup < 0:
        print("error: --rounds must be >= 1 and --warmup >= 0", file=sys.stderr)
        return 2
    data: Path = args.data.resolve()
    scenarios = build_scenarios(data, args.bce, sys.executable, args.baseline)
    by_name = {s.name: s for s in scenarios}
    if args.only:
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in wanted if n not in by_name]
        if unknown:
            print(
                f"error: unknown scenario(s) {', '.join(unknown)}; "
                f"choose from {', '.join(by_name)}",
                file=sys.stderr,
            )
            return 2
        scenarios = [by_name[n] for n in wanted]

    if args.list:
        for sc in scenarios:
            print(f"{sc.name}: {sc.what}")
            for c in sc.commands:
                print(f"    {c.key:16s} {c.shell()}")
            for cmp in sc.comparisons:
                print(f"    target: bce / {cmp.label} {cmp.target_text}")
            for note in sc.notes:
                print(f"    note: {note}")
            absent = sc.absent_module()
            if absent:
                print(f"    note: skipped: {absent}")
        return 0

    pycache = None if args.no_pycache else data / ".pycache"
    env = child_env(pycache)
    load_before = os.getloadavg()
    watch = CpuWatch.start()
    done: dict[str, ScenarioResult] = {}
    skipped: list[str] = []
    for sc in scenarios:
        missing = [n for n in sc.inputs if not (data / n).exists()]
        if missing:
            msg = (
                f"{sc.name} skipped: missing {', '.join(missing)} in {data}; "
                f"create with: {MAKE_DATA} {sc.make_flags}"
            )
            log(f"\n== {msg}")
            skipped.append(msg)
            continue
        absent = sc.absent_module()
        if absent:
            msg = f"{sc.name} skipped: {absent}"
            log(f"\n== {msg}")
            skipped.append(msg)
            continue
        done[sc.name] = run_scenario(sc, data, args.rounds, args.warmup, args.timeout, env)

    checks = [c for sr in done.values() for c in sr.checks] + cross_checks(done)
    print()
    load = (load_before, os.getloadavg())
    print(report(done, skipped, checks, args, load, watch.others_share()))
    if args.json:
        dump_json(args.json, done, checks)
    bad = any(c.result in (FAIL, FAILED) for c in checks) or any(
        r.failure is not None for sr in done.values() for r in sr.results.values()
    )
    return 1 if args.check and bad else 0


if __name__ == "__main__":
    sys.exit(main())
