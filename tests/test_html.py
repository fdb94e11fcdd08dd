"""The HTML report (--html FILE): one self-contained page, escaped, and what a browser shows.

The browser tests run Chromium headless (Debian's package, `chromium` on PATH) and are
skipped where it is not installed: the page must render, log no console error, and show the
numbers of the JSON report.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import bcecli.text as fmt
from bcecli.cli import cli
from tests.conftest import SAMPLES

HEALTHY = str(SAMPLES / "healthy_binary.csv")
HOSTILE = "<script>alert(1)</script>"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")


def write(args: list[str], out: Path, *, code: int = 0) -> str:
    result = CliRunner().invoke(cli, [*args, "--html", str(out), "-f", "json"])
    assert result.exit_code == code, result.output
    return out.read_text(encoding="utf-8")


class Page(HTMLParser):
    """Tags, attributes and text of a page, as a browser's DOM or the file holds them."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def headline(text: str) -> dict[str, tuple[str, str]]:
    pattern = re.compile(r'<dd data-key="(\w+)" data-value="([^"]*)">([^<]*)</dd>')
    return {k: (v, shown) for k, v, shown in pattern.findall(text)}


def check_numbers(page: str, data: dict[str, Any]) -> None:
    got = headline(page)
    assert set(got) == {"mean_loss", "baseline_loss", "ne", "accuracy", "brier", "ece", "n"}
    for key, (value, shown) in got.items():
        want = data[key]
        if key == "n":
            assert int(value) == want and shown == f"{want:,}"
            continue
        assert float(value) == float(want), key  # the exact value, read back
        show = {"mean_loss": fmt.loss, "baseline_loss": fmt.loss, "accuracy": fmt.pct}.get(
            key, fmt.num
        )
        text = fmt.num(float(want), 3) if key == "ne" else show(float(want))
        assert shown == text, key


def test_score_writes_a_self_contained_page(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = CliRunner().invoke(cli, ["score", HEALTHY, "--html", str(out), "-f", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # stdout is unchanged: the JSON report
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    parsed = Page(page)
    assert not [t for t, _ in parsed.tags if t in ("script", "link", "img", "iframe", "object")]
    for _, attrs in parsed.tags:  # nothing to fetch: no source, no link out
        assert not attrs.get("src") and not attrs.get("href", "").startswith(("http", "//"))
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    namespaces = {
        'xmlns="http://www.w3.org/2000/svg"',
        'xmlns:xlink="http://www.w3.org/1999/xlink"',
    }
    assert set(re.findall(r'[a-z:]+="https?://[^"]*"', page)) <= namespaces  # SVG's, no load
    check_numbers(page, data)
    for f in data["flags"]:  # each flag with its hint
        assert fmt_html(f["message"]) in page and fmt_html(f["hint"]) in page
    assert "Worst samples" in page and "Per-sample loss" in page  # the --verbose tables
    if _has_matplotlib():
        assert page.count("<svg") == 1
    assert "wrote" in result.stderr and str(out) in result.stderr


def fmt_html(text: str) -> str:
    import html

    return html.escape(text, quote=True)


def _has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def test_without_matplotlib_the_page_says_how_to_get_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    page = write(["score", HEALTHY], tmp_path / "r.html")
    assert "<svg" not in page and "pip install 'bcecli[plot]'" in fmt_unescape(page)
    assert headline(page)["mean_loss"][0]


def fmt_unescape(text: str) -> str:
    import html

    return html.unescape(text)


def hostile_file(tmp_path: Path) -> Path:
    """Column names and a file name that are markup."""
    folder = tmp_path / "<b>dir"
    folder.mkdir()
    path = folder / "x<img src=x onerror=alert(2)>.csv"
    rows = [f'"{HOSTILE}","""><svg onload=alert(3)>"']
    rows += [f"{i % 2},{0.3 + 0.4 * (i % 2) + 0.01 * (i % 7)}" for i in range(200)]
    path.write_text("\n".join(rows) + "\n")
    return path


def hostile_args(path: Path) -> list[str]:
    return ["score", str(path), "--label-col", HOSTILE, "--pred-col", '"><svg onload=alert(3)>']


def test_names_from_the_data_are_escaped(tmp_path: Path) -> None:
    path = hostile_file(tmp_path)
    page = write(hostile_args(path), tmp_path / "r.html")
    assert HOSTILE not in page and "onerror=alert" not in page.replace("onerror=alert(2)&gt;", "")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    tags = [t for t, _ in Page(page).tags]
    assert "script" not in tags and "img" not in tags and "b" not in tags
    assert tags.count("svg") == (1 if _has_matplotlib() else 0)  # the figure, not the name
    assert not any("onload" in a or "onerror" in a for _, a in Page(page).tags)


def test_check_init_writes_a_page(tmp_path: Path) -> None:
    out = tmp_path / "init.html"
    result = CliRunner().invoke(
        cli,
        ["check-init", str(SAMPLES / "untrained_10class.csv"), "--html", str(out), "-f", "json"],
    )
    data = json.loads(result.stdout)
    page = out.read_text(encoding="utf-8")
    assert f"{data['verdict']}: " in page and fmt_html(data["hint"]) in page
    assert "Loss at initialisation" in page and fmt.loss(data["init_loss"]) in page
    for name, bias in zip(data["names"], data["recommended_bias"], strict=True):
        assert re.search(rf"<td[^>]*>{re.escape(fmt_html(str(name)))}</td>", page)
        assert f">{fmt.num(bias, 4)}</td>" in page


def test_an_unwritable_path_is_one_error_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["score", HEALTHY, "--html", str(tmp_path / "no" / "r.html")])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ") and len(result.stderr.splitlines()) == 1


# ------------------------------------------------------------------------------------------
# in a real browser


def chromium(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--enable-logging=stderr", "--v=0", f"--user-data-dir={cwd / 'profile'}",
    ]  # fmt: skip
    return subprocess.run(
        [CHROMIUM, *flags, *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def console_errors(log: str) -> list[str]:
    """Lines of Chromium's log that are the page's console messages or blocked loads."""
    return [
        line
        for line in log.splitlines()
        if "CONSOLE" in line or "Content Security Policy" in line or "net::ERR" in line
    ]


@needs_chromium
def test_the_page_renders_in_chromium_with_the_json_numbers(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = CliRunner().invoke(cli, ["score", HEALTHY, "--html", str(out), "-f", "json"])
    data = json.loads(result.stdout)
    dom = chromium("--dump-dom", out.as_uri(), cwd=tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "<table>" in dom.stdout and 'id="verdict"' in dom.stdout
    check_numbers(dom.stdout, data)  # the numbers as the browser holds them
    assert not console_errors(dom.stderr), console_errors(dom.stderr)
    shot = tmp_path / "report.png"
    run = chromium("--window-size=1280,1800", f"--screenshot={shot}", out.as_uri(), cwd=tmp_path)
    assert run.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000  # a page with text and figures, not a blank one
    assert not console_errors(run.stderr), console_errors(run.stderr)


@needs_chromium
def test_hostile_names_stay_text_in_chromium(tmp_path: Path) -> None:
    path = hostile_file(tmp_path)
    out = tmp_path / "r.html"
    write(hostile_args(path), out)
    dom = chromium("--dump-dom", out.as_uri(), cwd=tmp_path)
    tags = [t for t, _ in Page(dom.stdout).tags]
    assert "script" not in tags and "img" not in tags
    assert HOSTILE in fmt_unescape("".join(Page(dom.stdout).text))  # shown as text
    assert not console_errors(dom.stderr), console_errors(dom.stderr)


@needs_chromium
def test_a_console_error_would_be_seen(tmp_path: Path) -> None:
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><p>x</p><script>console.error("boom")</script>')
    assert console_errors(chromium("--dump-dom", page.as_uri(), cwd=tmp_path).stderr)


def test_compare_writes_a_page(tmp_path: Path) -> None:
    out = tmp_path / "cmp.html"
    a = str(SAMPLES / "healthy_binary.csv")
    result = CliRunner().invoke(cli, ["compare", a, a, "--html", str(out), "-f", "json"])
    assert result.exit_code in (0, 1), result.output
    data = json.loads(result.stdout)
    page = out.read_text(encoding="utf-8")
    assert fmt_html(data["verdict"]["text"]) in page and "<table>" in page
