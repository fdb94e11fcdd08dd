"""The picture of a report: per-sample loss histogram, reliability diagram and, for multi-column
tasks, each class's (or output's) mean loss against its baseline.

Everything is drawn from the report's bins (the streaming accumulator's histogram and calibration
sums), never from per-sample data, so a file of any size plots as fast as it scores. ``plot_data``
is pure and holds every number the figure shows; ``write_figure`` imports matplotlib lazily and
draws with its object-oriented API on an Agg canvas (no pyplot, no global state).
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import bcecli.text as fmt
from bcecli.core.report import CalibrationBin, Report
from bcecli.errors import OptionError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

FORMATS = (".png", ".svg", ".pdf")
DPI = 100
HEIGHT = 4.5  # inches
PANEL_WIDTH = {2: 6.0, 3: 16 / 3}  # inches per panel: 12 x 4.5 or 16 x 4.5 in all
MAX_OUTPUTS = 30  # more classes than this: the ones with the highest mean loss
INSTALL_HINT = "bce plot needs matplotlib: pip install 'bcecli[plot]'"

# Colour-blind-safe (Okabe-Ito); hatching and line styles carry the meaning without colour.
BLUE, ORANGE, VERMILION, GREY, BLACK = "#0072B2", "#E69F00", "#D55E00", "#999999", "#000000"


@dataclass(frozen=True)
class HistBin:
    lo: float
    hi: float  # inf for the last bin
    count: int


@dataclass(frozen=True)
class Marker:
    """A vertical line on the histogram: ``position`` is on the bin axis (bin i spans [i, i+1])."""

    kind: str  # mean | one | baseline | floor
    label: str
    value: float
    position: float


@dataclass(frozen=True)
class OutputBar:
    name: str
    mean_loss: float
    baseline: float


@dataclass(frozen=True)
class CorpPanel:
    """The CORP reliability curve: the isotonic recalibration's steps (``lo``, ``hi``: the
    scores each covers; ``rate``: what it recalibrates them to) against the diagonal."""

    lo: tuple[float, ...]
    hi: tuple[float, ...]
    rate: tuple[float, ...]
    title: str  # with the decomposition
    axes: tuple[str, str]


@dataclass(frozen=True)
class LadderBar:
    """One rung of the recalibration ladder: the loss after a fit (the first: as it is)."""

    name: str
    loss: float
    detail: str  # the fitted parameters


@dataclass(frozen=True)
class PlotData:
    """Every number and word the figure shows."""

    title: str
    subtitle: str
    histogram: tuple[HistBin, ...]
    markers: tuple[Marker, ...]
    calibration: tuple[CalibrationBin, ...]
    ece: float
    calibration_title: str
    calibration_axes: tuple[str, str, str]  # x label, y label, what a bin counts
    outputs: tuple[OutputBar, ...]
    outputs_title: str
    outputs_axis: str  # x label of the per-class panel
    # the second row: why the loss is what it is (None / empty: it does not apply)
    corp: CorpPanel | None = None
    ladder: tuple[LadderBar, ...] = ()
    ladder_title: str = ""

    @property
    def panels(self) -> int:
        return 3 if self.outputs else 2

    @property
    def rows(self) -> int:
        return 2 if self.corp is not None or self.ladder else 1

    @property
    def size_inches(self) -> tuple[float, float]:
        return PANEL_WIDTH[self.panels] * self.panels, HEIGHT * self.rows


def loss_position(value: float, histogram: tuple[HistBin, ...]) -> float | None:
    """Where a loss falls on the bin axis: linear inside its bin; the open last bin's middle."""
    if math.isnan(value) or not histogram:
        return None
    for i, b in enumerate(histogram):
        if math.isinf(b.hi):
            return i + 0.5
        if value < b.hi:
            return i + max(0.0, (value - b.lo) / (b.hi - b.lo))
    return len(histogram) - 0.5


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]


def plot_data(report: Report) -> PlotData:
    """What the figure shows, taken from the report alone (pure: no matplotlib)."""
    r = report
    source = _short(" + ".join(r.context.sources) or "-", 80)
    title = f"{source}: {r.task.value}, n = {r.n:,}"
    if r.n_excluded:
        title += f" ({r.n_excluded:,} excluded)"
    mean = f"mean loss {fmt.num(r.mean_loss)}" + (" nats" if math.isfinite(r.mean_loss) else "")
    subtitle = (
        mean
        + (f" ({r.band})" if r.band else "")
        + f", baseline {fmt.num(r.baseline_loss)}, NE {fmt.num(r.ne, 3)}, "
        f"accuracy {r.accuracy:.1%}; {r.framework}"
    )
    serious = [f.id for f in r.flags if f.severity.value in ("error", "warning")]
    if serious:
        subtitle += f"\nflags: {', '.join(serious[:4])}{' ...' if len(serious) > 4 else ''}"
        subtitle += " (bce score shows what to do)"

    hist = tuple(HistBin(lo, hi, count) for lo, hi, count in r.histogram)
    marks = [
        ("mean", f"mean {fmt.num(r.mean_loss)}", r.mean_loss),
        ("baseline", f"baseline {fmt.num(r.baseline_loss)}", r.baseline_loss),
        ("one", "loss 1 (p(true) = 1/e)", 1.0),
    ]
    if r.entropy_floor is not None:
        marks.append(("floor", f"entropy floor {fmt.num(r.entropy_floor)}", r.entropy_floor))
    markers = tuple(
        Marker(kind, label, value, pos)
        for kind, label, value in marks
        if (pos := loss_position(value, hist)) is not None
    )

    multiclass = r.task.is_multiclass
    if multiclass:
        cal_title = f"Reliability of the top class (ECE {fmt.num(r.ece)})"
        cal_axes = ("mean top-class probability", "fraction correct", "samples")
    elif len(r.prior) > 1:
        cal_title = f"Reliability, all outputs (ECE {fmt.num(r.ece)})"
        cal_axes = ("mean predicted probability", "mean label (observed frequency)", "predictions")
    else:
        cal_title = f"Reliability (ECE {fmt.num(r.ece)})"
        cal_axes = ("mean predicted probability", "fraction positive (observed)", "samples")

    outputs = tuple(OutputBar(o.name, o.mean_loss, o.baseline) for o in r.outputs)
    kind = "class" if multiclass else "output"
    if len(outputs) > MAX_OUTPUTS:
        worst = sorted(range(len(outputs)), key=lambda i: -_sortable(outputs[i].mean_loss))
        outputs = tuple(outputs[i] for i in sorted(worst[:MAX_OUTPUTS]))
        kind += f" (the {MAX_OUTPUTS} of {len(r.outputs)} with the highest loss)"
    baseline_words = "−ln prior" if multiclass else "base-rate entropy"
    out_title = "Per class" if multiclass else "Per output"
    out_title += f": mean loss vs baseline ({baseline_words})"
    corp, ladder, ladder_title = _why_panels(r)
    return PlotData(
        title=title,
        subtitle=subtitle,
        histogram=hist,
        markers=markers,
        calibration=r.calibration,
        ece=r.ece,
        calibration_title=cal_title,
        calibration_axes=cal_axes,
        outputs=outputs,
        outputs_title=out_title,
        outputs_axis=kind,
        corp=corp,
        ladder=ladder,
        ladder_title=ladder_title,
    )


def _why_panels(r: Report) -> tuple[CorpPanel | None, tuple[LadderBar, ...], str]:
    """The CORP curve and the recalibration ladder of a valid report (binary with one output,
    or multi-class); nothing where they do not apply."""
    if not r.valid:
        return None, (), ""
    corp = None
    d, c = r.decomposition, r.corp_curve
    if c is not None and d is not None and c.rate:
        what = "top label" if r.task.is_multiclass else "CORP"
        title = (
            f"Reliability, {what} (isotonic): MCB {fmt.num(d.miscalibration, 3)}, "
            f"DSC {fmt.num(d.discrimination, 3)}, UNC {fmt.num(d.uncertainty, 3)}"
        )
        if r.task.is_multiclass:
            axes = ("top-class probability", "P(top class is right), recalibrated")
        else:
            axes = ("predicted probability", "recalibrated probability (PAV)")
        corp = CorpPanel(c.lo, c.hi, c.rate, title, axes)
    rungs: list[LadderBar] = []
    rc, sm = r.recalibration, r.softmax_recalibration
    if rc is not None and d is not None and len(r.outputs) < 2:
        rungs = [
            LadderBar("as it is", d.mean_loss, ""),
            LadderBar("bias", rc.bias.loss, f"b = {fmt.num(rc.bias.b, 3)}"),
            LadderBar("temperature", rc.temperature.loss, f"T = {fmt.num(rc.temperature.T, 3)}"),
            LadderBar(
                "Platt",
                rc.platt.loss,
                f"a = {fmt.num(rc.platt.a, 3)}, b = {fmt.num(rc.platt.b, 3)}",
            ),
            LadderBar("isotonic", rc.isotonic_loss, "PAV"),
        ]
    elif sm is not None:
        rungs = [
            LadderBar("as it is", sm.start_loss, ""),
            LadderBar("bias vector", sm.bias_loss, f"{len(sm.b)} biases"),
            LadderBar("temperature", sm.temperature_loss, f"T = {fmt.num(sm.T, 3)}"),
        ]
    where = ""
    if sm is not None and not sm.exact:
        where = f" on a {sm.rows:,}-row sample"
    title = f"Loss after recalibration (fitted in sample{where})" if rungs else ""
    return corp, tuple(rungs), title


def _sortable(v: float) -> float:
    return -math.inf if math.isnan(v) else v


def check_output(path: str) -> str:
    """The picture format of ``path`` (its extension), refused early: before any scoring."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in FORMATS:
        raise OptionError(
            f"cannot tell the picture format from the name ({ext or 'no extension'})",
            "end the --output name with .png, .svg or .pdf",
            source=path,
        )
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise OptionError(
            f"the folder {folder} does not exist", "create it or choose another", source=path
        )
    require_matplotlib()
    return ext


def matplotlib_home() -> str:
    """Where matplotlib keeps its configuration and font cache: the user's MPLCONFIGDIR if set,
    else a folder of bce's own in the temporary directory (``bce-matplotlib-<uid>``, private to
    the user and reused, so the font list is built once), never the home directory. Set before
    matplotlib is first imported; a folder that is not the user's own is not used (a fresh one
    is, at the cost of rebuilding the font list)."""
    import stat
    import tempfile

    mine = os.environ.get("MPLCONFIGDIR")
    if mine:
        return mine
    uid = os.getuid() if hasattr(os, "getuid") else 0
    folder = os.path.join(tempfile.gettempdir(), f"bce-matplotlib-{uid}")
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        pass
    except OSError:
        folder = ""
    if folder:
        st = os.lstat(folder)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid or st.st_mode & 0o077:
            folder = ""
    if not folder:
        folder = tempfile.mkdtemp(prefix="bce-matplotlib-")
    os.environ["MPLCONFIGDIR"] = folder
    return folder


def require_matplotlib() -> None:
    import logging

    if "matplotlib" not in sys.modules:
        matplotlib_home()
    # matplotlib announces its one-time font cache build on the log; bce's stderr stays quiet
    logging.getLogger("matplotlib").setLevel(logging.ERROR)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise OptionError(INSTALL_HINT) from None


def write_figure(data: PlotData, path: str) -> None:
    """Draw ``data`` and save it; the format follows the extension; same input, same bytes."""
    ext = check_output(path)
    import matplotlib

    # fixed metadata (no dates, no versions): the same report gives the same bytes
    metadata: dict[str, str | None] = {"Title": data.title}
    if ext == ".png":
        metadata["Software"] = "bce"
    elif ext == ".svg":
        metadata.update(Creator="bce", Date=None)
    else:
        metadata.update(Creator="bce", Producer="bce", CreationDate=None)
    with matplotlib.rc_context(
        {
            "font.size": 9,
            "axes.titlesize": 10,
            "axes.labelsize": 9,
            "legend.fontsize": 8,
            "xtick.labelsize": 8,
            "ytick.labelsize": 8,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "svg.hashsalt": "bce",  # stable ids in SVG output
            "text.parse_math": False,  # file and class names are text, even with a "$"
        }
    ):
        fig = render_figure(data)
        try:
            fig.savefig(path, dpi=DPI, metadata=metadata)
        except OSError as e:
            raise OptionError(
                f"cannot write the picture ({e.strerror or e})",
                "check the folder's permissions or choose another name",
                source=path,
            ) from None


def render_figure(data: PlotData) -> Figure:
    """The figure for ``data``: histogram, reliability diagram, per-class panel if any."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    layout = ConstrainedLayoutEngine(w_pad=0.08, h_pad=0.08)
    fig = Figure(figsize=data.size_inches, dpi=DPI, layout=layout)
    FigureCanvasAgg(fig)
    fig.suptitle(f"{data.title}\n{data.subtitle}", fontsize=10, linespacing=1.5)
    top: Figure | SubFigure = fig
    if data.rows == 2:
        rows = fig.subfigures(2, 1, squeeze=False)  # an array of SubFigure
        top, bottom = rows[0, 0], rows[1, 0]
        why = bottom.subplots(1, 2, width_ratios=[1.0, 1.5])
        if data.corp is not None:
            _corp(why[0], data.corp)
        else:
            why[0].set_axis_off()
        if data.ladder:
            _ladder(why[1], data)
        else:
            why[1].set_axis_off()
    axes = top.subplots(1, data.panels, width_ratios=[1.5, 1.0, 1.3][: data.panels])
    _histogram(axes[0], data)
    _reliability(axes[1], data)
    if data.outputs:
        _outputs(axes[2], data)
    return fig


def _corp(ax: Axes, c: CorpPanel) -> None:
    """The PAV step function against the diagonal: each step spans its scores and joins the
    next at the midpoint between them."""
    ax.plot([0, 1], [0, 1], color=GREY, linestyle="--", linewidth=1, label="perfect calibration")
    xs: list[float] = []
    ys: list[float] = []
    for i, rate in enumerate(c.rate):
        left = c.lo[i] if i == 0 else (c.hi[i - 1] + c.lo[i]) / 2
        right = c.hi[i] if i == len(c.rate) - 1 else (c.hi[i] + c.lo[i + 1]) / 2
        xs += [left, right]
        ys += [rate, rate]
    ax.plot(xs, ys, color=BLUE, linewidth=1.8, label="isotonic recalibration (PAV)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel(c.axes[0])
    ax.set_ylabel(c.axes[1])
    ax.set_title(c.title)
    # the legend goes on the side of the diagonal the steps avoid
    above = sum(r - (a + b) / 2 for r, a, b in zip(c.rate, c.lo, c.hi, strict=True)) > 0
    ax.legend(loc="lower right" if above else "upper left", frameon=True, framealpha=0.9)


def _ladder(ax: Axes, data: PlotData) -> None:
    """Horizontal bars: the loss as it is, then after each fit, with the fitted parameters."""
    rungs = data.ladder
    ys = list(range(len(rungs)))[::-1]
    finite = [b.loss for b in rungs if math.isfinite(b.loss)]
    top = max(finite, default=1.0) * 1.25 or 1.0
    widths = [min(b.loss, top) if not math.isnan(b.loss) else 0.0 for b in rungs]
    colours = [GREY] + [BLUE] * (len(rungs) - 1)
    ax.barh(ys, widths, height=0.6, color=colours, edgecolor="white")
    raw = rungs[0].loss
    if math.isfinite(raw):
        ax.axvline(
            raw, color=BLACK, linestyle="--", linewidth=1.2, label=f"as it is {fmt.num(raw)}"
        )
    for y, b in zip(ys, rungs, strict=True):
        text = fmt.num(b.loss) + (f"  ({b.detail})" if b.detail else "")
        ax.text(
            min(b.loss, top) if math.isfinite(b.loss) else 0,
            y,
            "  " + text,
            va="center",
            fontsize=8,
        )
    ax.set_yticks(ys, [b.name for b in rungs])
    ax.set_xlim(0, top * 1.35)
    ax.set_xlabel("mean loss (nats)")
    ax.set_title(data.ladder_title)
    ax.legend(loc="lower right", frameon=True, framealpha=0.9)


# colour, line style, width: the styles alone tell the markers apart
_MARK_STYLE: dict[str, tuple[str, str, float]] = {
    "mean": (BLACK, "-", 1.8),
    "baseline": (ORANGE, "--", 1.6),
    "one": (VERMILION, ":", 1.6),
    "floor": (GREY, "-.", 1.4),
}


def _edge_label(v: float) -> str:
    if math.isinf(v):
        return "∞"
    return f"{v:g}".replace("0.", ".", 1) if 0 < v < 1 else f"{v:g}"


def _histogram(ax: Axes, data: PlotData) -> None:
    bins = data.histogram
    xs = [i + 0.5 for i in range(len(bins))]
    counts = [b.count for b in bins]
    colours = [VERMILION if b.lo >= 1 else BLUE for b in bins]
    hatches = ["///" if b.lo >= 1 else "" for b in bins]
    ax.bar(xs, counts, width=0.9, color=colours, hatch=hatches, edgecolor="white", linewidth=0.5)
    for m in data.markers:
        colour, style, width = _MARK_STYLE[m.kind]
        ax.axvline(m.position, label=m.label, color=colour, linestyle=style, linewidth=width)
    ax.set_xticks(range(len(bins) + 1), [_edge_label(b.lo) for b in bins] + ["∞"])
    ax.set_xlim(0, len(bins))
    ax.set_ylim(0, max(counts, default=0) * 1.4 or 1)  # head room for the legend
    ax.set_xlabel("per-sample loss (nats; bins of unequal width, hatched: loss ≥ 1)")
    ax.yaxis.set_major_formatter(lambda v, _: _compact(int(v)))  # 1.5k, 2.0M: no "1e6"
    ax.set_ylabel("samples")
    ax.set_title("Per-sample loss")
    ax.legend(loc="upper right", ncols=2, frameon=True, framealpha=0.9)


def _compact(n: int) -> str:
    """At most four characters: 999, 1.5k, 150k, 2.5M, 150M, 1.2G."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= scale * 0.9995:
            v = n / scale
            return f"{v:.1f}{suffix}" if v < 9.95 else f"{v:.0f}{suffix}"
    return str(n)


def _reliability(ax: Axes, data: PlotData) -> None:
    bins = data.calibration
    ax.plot([0, 1], [0, 1], color=GREY, linestyle="--", linewidth=1, label="perfect calibration")
    # each bin's gap to the diagonal, as a vertical segment from the diagonal to the point
    ax.vlines(
        [b.mean_pred for b in bins],
        [b.mean_pred for b in bins],
        [b.frac_pos for b in bins],
        color=VERMILION,
        linewidth=2.5,
        alpha=0.6,
        label="gap (calibration error)",
    )
    ax.plot(
        [b.mean_pred for b in bins],
        [b.frac_pos for b in bins],
        color=BLUE,
        marker="o",
        markersize=4.5,
        linewidth=1.4,
        label=f"observed (ECE {fmt.num(data.ece)})",
    )
    counts = ax.secondary_xaxis("top")  # bin counts above the frame, clear of the data
    counts.set_xticks([(b.lo + b.hi) / 2 for b in bins], [_compact(b.count) for b in bins])
    counts.tick_params(labelsize=7, length=0, pad=2)
    counts.set_xlabel(f"{data.calibration_axes[2]} per bin", fontsize=8, color=GREY, labelpad=3)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xticks([i / 10 for i in range(11)], [f"{i / 10:g}" for i in range(11)])
    ax.set_xlabel(data.calibration_axes[0])
    ax.set_ylabel(data.calibration_axes[1])
    ax.set_title(data.calibration_title)
    # the legend goes on the side of the diagonal the points avoid
    above = sum(b.count * (b.frac_pos - b.mean_pred) for b in bins) > 0
    ax.legend(loc="lower right" if above else "upper left", frameon=True, framealpha=0.9)


def _outputs(ax: Axes, data: PlotData) -> None:
    outs = data.outputs
    finite = [v for o in outs for v in (o.mean_loss, o.baseline) if math.isfinite(v)]
    top = max(finite, default=1.0) * 1.35 or 1.0  # head room for the legend
    xs = list(range(len(outs)))
    heights = [min(o.mean_loss, top) if not math.isnan(o.mean_loss) else 0.0 for o in outs]
    worse = [o.mean_loss >= o.baseline for o in outs]
    ax.bar(
        xs,
        heights,
        width=0.7,
        color=[VERMILION if w else BLUE for w in worse],
        hatch=["///" if w else "" for w in worse],
        edgecolor="white",
        linewidth=0.5,
        label="mean loss",
    )
    ax.hlines(
        [min(o.baseline, top) for o in outs],
        [x - 0.45 for x in xs],
        [x + 0.45 for x in xs],
        color=BLACK,
        linewidth=2.2,
        label="baseline",
    )
    for x, o in zip(xs, outs, strict=True):
        if not math.isfinite(o.mean_loss):
            word = "n/a" if math.isnan(o.mean_loss) else "inf"
            box = {"facecolor": "white", "edgecolor": "none", "pad": 1}
            ax.text(x, top * 0.98, word, ha="center", va="top", fontsize=7, bbox=box)
    if any(worse):
        ax.bar([0], [0], color=VERMILION, hatch="///", label="no better than baseline")
    names = [_short(o.name, 12) for o in outs]
    long_names = max(map(len, names)) > 3 and len(names) > 6
    ax.set_xticks(
        xs, names, rotation=45 if long_names else 0, ha="right" if long_names else "center"
    )
    ax.set_xlim(-0.6, len(outs) - 0.4)
    ax.set_ylim(0, top)
    ax.set_xlabel(data.outputs_axis)
    ax.set_ylabel("mean loss (nats)")
    ax.set_title(data.outputs_title)
    ax.legend(loc="upper right", ncols=3, frameon=True, framealpha=0.9)
