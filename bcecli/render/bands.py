"""``bce bands`` output: the band table with its source, and the NE scale."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bcecli.core.bands import BANDS, BANDS_SOURCE, BANDS_URL, NE_SCALE, NE_SOURCE

if TYPE_CHECKING:
    from rich.console import RenderableType


def bands_data() -> dict[str, Any]:
    return {
        "bands": [
            {
                "id": b.id,
                "label": b.label,
                "rule": b.rule,
                "meaning": b.meaning,
                "source": "bce" if b.ours else "Brownlee 2019",
            }
            for b in BANDS
        ],
        "source": BANDS_SOURCE,
        "url": BANDS_URL,
        "ne_scale": [{"rule": s.rule, "meaning": s.meaning} for s in NE_SCALE],
        "ne_source": NE_SOURCE,
        "caveat": "The bands are a rule of thumb for balanced binary problems, in nats: ln 2 = "
        "0.693 is a coin flip, and with C classes the uninformed baseline is ln C, so they do "
        "not transfer to multi-class losses. NE (mean loss / loss of the base rate) does.",
    }


def bands_rows() -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = [("kind", "rule", "label", "meaning")]
    rows += [("band", b.rule, b.label, b.meaning) for b in BANDS]
    rows += [("ne", s.rule, "", s.meaning) for s in NE_SCALE]
    return rows


def bands_renderables() -> list[RenderableType]:
    from rich.text import Text

    from bcecli.render.terminal import table

    data = bands_data()
    t = table("Mean cross-entropy (nats): rule-of-thumb bands")
    t.add_column("mean loss", justify="right")
    t.add_column("band")
    t.add_column("meaning")
    for b in BANDS:
        t.add_row(b.rule, b.label + (" *" if b.ours else ""), b.meaning)
    ne = table("Normalized entropy NE = mean loss / loss of always predicting the base rate")
    ne.add_column("NE", justify="right")
    ne.add_column("meaning")
    for s in NE_SCALE:
        ne.add_row(s.rule, s.meaning)
    return [
        t,
        Text(
            f"Source: {BANDS_SOURCE}, {BANDS_URL}. * bce's name for the range the source "
            "leaves unnamed.",
            style="dim",
        ),
        Text(data["caveat"], style="dim"),
        ne,
        Text(f"Source: {NE_SOURCE}.", style="dim"),
    ]
