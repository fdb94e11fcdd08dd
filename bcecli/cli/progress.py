"""A progress line on stderr for long runs: only on a terminal, only after a second, never
under -q. It shows rows read and rows per second (and a bar when the total is known)."""

from __future__ import annotations

import sys
import time
from typing import Any

DELAY_S = 1.0


def _speed_column() -> Any:
    from rich.progress import ProgressColumn
    from rich.text import Text

    class Speed(ProgressColumn):
        def render(self, task: Any) -> Text:
            speed = task.speed
            return Text(f"{speed:,.0f} rows/s" if speed else "")

    return Speed()


class ProgressLine:
    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self._started = time.monotonic()
        self._progress: Any = None
        self._task: Any = None

    def __call__(self, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        if self._progress is None:
            if time.monotonic() - self._started < DELAY_S:
                return
            self._start(total)
        self._progress.update(self._task, completed=done, total=total)

    def _start(self, total: int | None) -> None:
        from rich.progress import (
            BarColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        from bcecli.render.terminal import make_console

        columns: list[Any] = [TextColumn("scoring")]
        if total is not None:
            columns += [BarColumn(), TaskProgressColumn()]
        columns += [
            TextColumn("{task.completed:,.0f} rows"),
            _speed_column(),
            TimeElapsedColumn(),
        ]
        self._progress = Progress(
            *columns, console=make_console(sys.stderr), transient=True, auto_refresh=True
        )
        self._progress.start()
        self._task = self._progress.add_task("score", total=total)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
