"""``bce plot`` and the terminal reliability chart: files that decode at the documented size, the
same bytes twice, and plotted numbers checked against the report and an independent computation."""

from __future__ import annotations

import inspect
import io
import json
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import click
import numpy as np
import pytest
from click.testing import CliRunner

from bcecli.cli import cli
from bcecli.core.report import CalibrationBin
from bcecli.render import plot as plot_module
from bcecli.render.charts import reliability_chart, reliability_track
from bcecli.render.plot import HistBin, PlotData, loss_position, plot_data
from bcecli.render.terminal import make_console
from tests.conftest import SAMPLES

BINARY, TEN_CLASS, MULTILABEL = "healthy_binary.csv", "softmax_10class.csv", "multilabel_soft.csv"
# (width, height) in pixels: two panels at 12 x 4.5 in, three at 16 x 4.5 in, 100 dpi; a
# second row of 4.5 in (the CORP curve and the recalibration ladder) for one binary output
# and for multi-class
SIZES = {BINARY: (1200, 900), TEN_CLASS: (1600, 900), MULTILABEL: (1600, 450)}
INSTALL_LINE = "Error: bce plot needs matplotlib: pip install 'bcecli[plot]'\n"


def draw(runner: CliRunner, sample: str, out: Path, *args: str) -> None:
    result = runner.invoke(cli, ["plot", str(SAMPLES / sample), "-o", str(out), *args])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr == f"wrote {out}\n"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[PlotData]:
    """The PlotData the figure code really draws from (recorded on the way through)."""
    seen: list[PlotData] = []
    original = plot_module.render_figure

    def record(data: PlotData) -> Any:
        seen.append(data)
        return original(data)

    monkeypatch.setattr(plot_module, "render_figure", record)
    return seen


@pytest.mark.parametrize("sample", [BINARY, TEN_CLASS, MULTILABEL])
def test_png_decodes_at_the_documented_size(runner: CliRunner, tmp_path: Path, sample: str) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "report.png"
    draw(runner, sample, out)
    data = out.read_bytes()
    assert png_size(data) == SIZES[sample]
    from matplotlib.image import imread

    pixels = imread(out)
    assert pixels.shape[:2] == SIZES[sample][::-1]
    assert pixels.min() < 0.2 < 0.9 < pixels.max()  # something dark drawn on a light page


@pytest.mark.parametrize("sample", [BINARY, MULTILABEL])
def test_svg_parses_with_size_and_title(runner: CliRunner, tmp_path: Path, sample: str) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "report.svg"
    draw(runner, sample, out)
    root = ET.parse(out).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    width, height = SIZES[sample]
    assert root.get("width") == f"{width * 72 // 100}pt"
    assert root.get("height") == f"{height * 72 // 100}pt"
    title = root.find("{http://www.w3.org/2000/svg}title")
    assert title is not None and title.text is not None and sample in title.text


def test_pdf_has_no_creation_date(runner: CliRunner, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "report.pdf"
    draw(runner, TEN_CLASS, out)
    data = out.read_bytes()
    assert data.startswith(b"%PDF-")
    assert b"/CreationDate" not in data and b"/Creator (bce)" in data


@pytest.mark.parametrize("ext", ["png", "svg", "pdf"])
def test_the_same_input_gives_the_same_bytes(runner: CliRunner, tmp_path: Path, ext: str) -> None:
    pytest.importorskip("matplotlib")
    first, second = tmp_path / f"a.{ext}", tmp_path / f"b.{ext}"
    draw(runner, MULTILABEL, first)
    draw(runner, MULTILABEL, second)
    assert first.read_bytes() == second.read_bytes()


def test_plotted_bins_match_an_independent_computation(
    runner: CliRunner, tmp_path: Path, captured: list[PlotData]
) -> None:
    pytest.importorskip("matplotlib")
    draw(runner, BINARY, tmp_path / "report.png")
    (data,) = captured
    y, p = np.loadtxt(SAMPLES / BINARY, delimiter=",", skiprows=1, unpack=True)
    # 10 equal-width bins of the prediction, [i/10, (i+1)/10), 1.0 in the last
    idx = np.minimum((p * 10).astype(int), 9)
    counts = np.bincount(idx, minlength=10)
    assert [b.count for b in data.calibration] == [int(c) for c in counts if c]
    for b in data.calibration:
        i = round(b.lo * 10)
        assert b.hi == pytest.approx((i + 1) / 10)
        assert b.mean_pred == pytest.approx(p[idx == i].mean(), rel=1e-12)
        assert b.frac_pos == pytest.approx(y[idx == i].mean(), rel=1e-12)
    ece = sum(
        counts[i] / len(p) * abs(y[idx == i].mean() - p[idx == i].mean())
        for i in range(10)
        if counts[i]
    )
    assert data.ece == pytest.approx(ece, rel=1e-12)
    assert f"ECE {data.ece:.4f}" in data.calibration_title

    # the histogram of per-sample losses, and where the markers sit on it
    loss = -(y * np.log(p) + (1 - y) * np.log1p(-p))
    edges = [b.lo for b in data.histogram]
    assert edges == [0.0, 0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.693, 1.0, 2.0, 5.0, 10.0]
    expected, _ = np.histogram(loss, bins=[*edges, np.inf])
    assert [b.count for b in data.histogram] == expected.tolist()
    markers = {m.kind: m for m in data.markers}
    assert set(markers) == {"mean", "baseline", "one"}
    assert markers["mean"].value == pytest.approx(loss.mean(), rel=1e-12)
    assert markers["one"].position == 8.0  # the edge between .693-1 and 1-2
    prior = y.mean()
    baseline = -(prior * np.log(prior) + (1 - prior) * np.log1p(-prior))
    assert markers["baseline"].value == pytest.approx(baseline, rel=1e-12)
    assert 6 < markers["baseline"].position < 7  # inside the bin 0.5 - 0.693
    assert data.outputs == ()  # binary: two panels
    assert data.panels == 2


def test_plotted_numbers_are_the_reports(
    runner: CliRunner, tmp_path: Path, captured: list[PlotData]
) -> None:
    pytest.importorskip("matplotlib")
    draw(runner, TEN_CLASS, tmp_path / "report.png")
    (data,) = captured
    result = runner.invoke(cli, ["score", str(SAMPLES / TEN_CLASS), "--format", "json"])
    report = json.loads(result.stdout)
    assert [b.__dict__ for b in data.calibration] == report["calibration"]
    assert [b.count for b in data.histogram] == [h["count"] for h in report["histogram"]]
    assert [(o.name, o.mean_loss, o.baseline) for o in data.outputs] == [
        (o["name"], o["mean_loss"], o["baseline"]) for o in report["outputs"]
    ]
    assert data.title == f"{SAMPLES / TEN_CLASS}: sparse, n = 3,000"
    assert "mean loss 0.8810 nats (not great)" in data.subtitle and "NE 0.383" in data.subtitle
    assert data.panels == 3


def test_per_class_panel_matches_an_independent_computation(
    runner: CliRunner, tmp_path: Path, captured: list[PlotData]
) -> None:
    pytest.importorskip("matplotlib")
    draw(runner, TEN_CLASS, tmp_path / "report.png")
    (data,) = captured
    table = np.loadtxt(SAMPLES / TEN_CLASS, delimiter=",", skiprows=1)
    labels, probs = table[:, 0].astype(int), table[:, 1:]
    loss = -np.log(probs[np.arange(len(labels)), labels])
    prior = np.bincount(labels, minlength=10) / len(labels)
    assert [o.name for o in data.outputs] == [f"prob_{k}" for k in range(10)] or [
        o.name for o in data.outputs
    ] == [str(k) for k in range(10)]
    for k, o in enumerate(data.outputs):
        assert o.mean_loss == pytest.approx(loss[labels == k].mean(), rel=1e-12)
        assert o.baseline == pytest.approx(-np.log(prior[k]), rel=1e-12)


def test_multilabel_marks_the_entropy_floor(
    runner: CliRunner, tmp_path: Path, captured: list[PlotData]
) -> None:
    pytest.importorskip("matplotlib")
    draw(runner, MULTILABEL, tmp_path / "report.svg")
    (data,) = captured
    assert [o.name for o in data.outputs] == ["cat", "dog", "outdoor", "night"]
    assert {m.kind for m in data.markers} == {"mean", "baseline", "one", "floor"}
    assert data.calibration_axes[2] == "predictions"  # every output's prediction is binned
    assert sum(b.count for b in data.calibration) == 600 * 4


def test_reduction_none_is_accepted_and_changes_nothing(runner: CliRunner, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    draw(runner, BINARY, tmp_path / "a.png")
    draw(runner, BINARY, tmp_path / "b.png", "--reduction", "none")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_without_matplotlib_one_line_and_exit_2(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` raises
    out = tmp_path / "report.png"
    result = runner.invoke(cli, ["plot", str(SAMPLES / BINARY), "-o", str(out)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == INSTALL_LINE
    assert not out.exists()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("report.jpg", "cannot tell the picture format from the name (.jpg)"),
        ("report", "cannot tell the picture format from the name (no extension)"),
        ("missing/report.png", "the folder"),
    ],
)
def test_bad_output_names_are_usage_errors(
    runner: CliRunner, tmp_path: Path, name: str, message: str
) -> None:
    out = tmp_path / name
    result = runner.invoke(cli, ["plot", str(SAMPLES / BINARY), "-o", str(out)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {out}: ") and message in result.stderr
    assert result.stderr.count("\n") == 1
    assert not out.exists()


def test_help_has_a_summary_and_examples(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["plot", "--help"])
    assert result.exit_code == 0
    assert "Draw the report of PREDS as a picture (PNG, SVG or PDF)." in result.stdout
    assert "  bce plot preds.csv -o report.png\n" in result.stdout
    for option in ("--labels", "--from-logits", "--compat", "--output"):
        assert option in result.stdout
    command = cli.get_command(click.Context(cli), "plot")
    assert command is not None
    assert "\b\nExamples:" in inspect.cleandoc(command.help or "")


def test_help_imports_neither_matplotlib_nor_numpy() -> None:
    code = (
        "import sys\n"
        "from bcecli.cli import cli\n"
        "for args in (['--help'], ['plot', '--help']):\n"
        "    cli.main(args, prog_name='bce', standalone_mode=False)\n"
        "print(sorted(m for m in ('matplotlib', 'numpy') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.splitlines()[-1] == "[]"


def test_loss_position_on_the_bin_axis() -> None:
    bins = tuple(
        HistBin(lo, hi, 0)
        for lo, hi in zip((0.0, 0.5, 1.0, 2.0), (0.5, 1.0, 2.0, float("inf")), strict=True)
    )
    assert loss_position(0.0, bins) == 0
    assert loss_position(0.25, bins) == 0.5
    assert loss_position(1.0, bins) == 2
    assert loss_position(1.5, bins) == 2.5
    assert loss_position(7.0, bins) == 3.5  # the open last bin: its middle
    assert loss_position(float("inf"), bins) == 3.5
    assert loss_position(float("nan"), bins) is None


def test_plot_data_is_pure_and_needs_no_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    from bcecli import score_file

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    report = score_file(str(SAMPLES / BINARY))
    data = plot_data(report)
    assert data.calibration == report.calibration and data.ece == report.ece
    assert data.size_inches == (12.0, 9.0)  # two rows: the second is the CORP curve and ladder


# The terminal chart


def chart_text(sample: str) -> str:
    from bcecli import score_file

    report = score_file(str(SAMPLES / sample))
    buf = io.StringIO()
    make_console(buf, color=False, width=40).print(reliability_chart(report))
    return "\n".join(line.rstrip() for line in buf.getvalue().splitlines())


def test_reliability_chart_golden_at_40_columns() -> None:
    assert chart_text(TEN_CLASS) == (
        "Reliability (top class, ECE 0.300)\n"
        " bin         n   0        .5         1\n"
        "───────────────────────────────────────\n"
        " 0.1–0.2    31   ····│───●············\n"
        " 0.2–0.3   417   ·····│───●···········\n"
        " 0.3–0.4   581   ·······│─────●·······\n"
        " 0.4–0.5   564   ·········│──────●····\n"
        " 0.5–0.6   460   ···········│───────●·\n"
        " 0.6–0.7   375   ·············│──────●\n"
        " 0.7–0.8   309   ···············│────●\n"
        " 0.8–0.9   214   ·················│──●\n"
        " 0.9–1.0    49   ···················│●\n"
        "│ predicted  ● observed  ─ gap"
    )


@pytest.mark.parametrize("sample", [BINARY, MULTILABEL])
def test_reliability_chart_fits_40_columns(sample: str) -> None:
    text = chart_text(sample)
    assert max(len(line) for line in text.splitlines()) <= 40
    assert text.count("●") == 10 + 1  # one observed dot per bin, one in the legend


def test_reliability_track() -> None:
    def track(pred: float, obs: float) -> str:
        return reliability_track(CalibrationBin(0.0, 1.0, 1, pred, obs), width=11)

    assert track(0.3, 0.7) == "···│───●···"
    assert track(0.7, 0.3) == "···●───│···"
    assert track(0.5, 0.5) == "·····●·····"  # agree: the dot alone
    assert track(0.0, 1.0) == "│─────────●"


def axes_titled(fig: Any, prefix: str) -> Any:
    (ax,) = [a for a in fig.axes if a.get_title().startswith(prefix)]
    return ax


def test_corp_curve_is_the_isotonic_fit(
    runner: CliRunner, tmp_path: Path, captured: list[PlotData]
) -> None:
    """The CORP panel's steps against scikit-learn's isotonic regression on the same rows,
    its title the report's decomposition, and the figure's axes drawing them."""
    pytest.importorskip("matplotlib")
    from sklearn.isotonic import IsotonicRegression

    draw(runner, BINARY, tmp_path / "report.png")
    (data,) = captured
    assert data.corp is not None and data.rows == 2
    table = np.loadtxt(SAMPLES / BINARY, delimiter=",", skiprows=1)
    y, p = table[:, 0], table[:, 1]
    fitted = IsotonicRegression(increasing=True).fit(p, y)
    for lo, hi, rate in zip(data.corp.lo, data.corp.hi, data.corp.rate, strict=True):
        assert fitted.predict([lo, hi]) == pytest.approx([rate, rate], abs=1e-12)
    report = json.loads(
        runner.invoke(cli, ["score", str(SAMPLES / BINARY), "--format", "json"]).stdout
    )
    dec = report["decomposition"]
    for key, short in (
        ("miscalibration", "MCB"),
        ("discrimination", "DSC"),
        ("uncertainty", "UNC"),
    ):
        assert f"{short} {dec[key]:.3f}" in data.corp.title
    fig = plot_module.render_figure(data)
    ax = axes_titled(fig, "Reliability, CORP")
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines["perfect calibration"].get_ydata()) == [0, 1]
    steps = lines["isotonic recalibration (PAV)"].get_ydata()
    assert list(steps[::2]) == list(data.corp.rate)


def test_ladder_panel_is_the_reports_recalibration(
    runner: CliRunner, tmp_path: Path, captured: list[PlotData]
) -> None:
    pytest.importorskip("matplotlib")
    for sample in (BINARY, TEN_CLASS):
        captured.clear()
        draw(runner, sample, tmp_path / "report.png")
        (data,) = captured
        result = runner.invoke(cli, ["score", str(SAMPLES / sample), "--format", "json"])
        report = json.loads(result.stdout)
        rc = report["recalibration"]
        names = [b.name for b in data.ladder]
        losses = [b.loss for b in data.ladder]
        if sample == BINARY:
            assert names == ["as it is", "bias", "temperature", "Platt", "isotonic"]
            expected = [report["decomposition"]["loss"], rc["bias"]["loss"]]
            expected += [rc["temperature"]["loss"], rc["platt"]["loss"], rc["isotonic"]["loss"]]
        else:
            assert names == ["as it is", "bias vector", "temperature"]
            expected = [report["mean_loss"], rc["bias"]["loss"], rc["temperature"]["loss"]]
            assert data.corp is not None and "top label" in data.corp.title
        assert losses == pytest.approx(expected, rel=1e-12)
        fig = plot_module.render_figure(data)
        ax = axes_titled(fig, "Loss after recalibration")
        widths = [bar.get_width() for bar in ax.patches]
        assert widths == pytest.approx(losses, rel=1e-12)
        top_down = sorted(ax.get_yticklabels(), key=lambda t: -t.get_position()[1])
        assert [t.get_text() for t in top_down] == names


def test_multilabel_has_no_second_row(
    runner: CliRunner, tmp_path: Path, captured: list[PlotData]
) -> None:
    pytest.importorskip("matplotlib")
    draw(runner, MULTILABEL, tmp_path / "report.png")
    (data,) = captured
    assert data.corp is None and data.ladder == () and data.rows == 1
