"""Progress of long work: a bar on a terminal, a plain line every tenth otherwise (logs, CI)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import IO

import click

Report = Callable[[int, int | None], None]


class PlainLines:
    """Writes ``label: done/total unit (percent)`` at each further tenth, and at the end."""

    def __init__(self, label: str, unit: str, out: IO[str]) -> None:
        self._label = label
        self._unit = unit
        self._out = out
        self._shown = -1

    def __call__(self, done: int, total: int | None) -> None:
        """Note that ``done`` of ``total`` (None: unknown) are done."""
        if total:
            tenth = min(10, done * 10 // total)
            if tenth == self._shown:
                return
            self._shown = tenth
            click.echo(f"{self._label}: {done}/{total} {self._unit} ({tenth * 10}%)",
                       file=self._out)
        elif done // 1000 != self._shown:
            # Unknown total (a byte stream): a line per thousand units.
            self._shown = done // 1000
            click.echo(f"{self._label}: {done} {self._unit}", file=self._out)


@contextlib.contextmanager
def progress(label: str, unit: str, *, out: IO[str] | None = None,
             scale: int = 1) -> Iterator[Report]:
    """A ``report(done, total)`` callback: tqdm on a terminal, plain lines otherwise.

    ``scale`` divides the counts for the plain lines (bytes shown as KiB).
    """
    stream = out if out is not None else sys.stderr
    if stream.isatty():
        from tqdm import tqdm

        with tqdm(desc=label, unit=unit if scale == 1 else "B", unit_scale=scale != 1,
                  file=stream, leave=False) as bar:
            def report(done: int, total: int | None) -> None:
                if total is not None and bar.total != total:
                    bar.total = total
                bar.update(done - bar.n)

            yield report
        return
    lines = PlainLines(label, unit, stream)
    yield lambda done, total: lines(done // scale, None if total is None else total // scale)
