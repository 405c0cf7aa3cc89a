"""Long work: a bar on a terminal, a plain line per tenth elsewhere (logs, CI, pipes)."""

from __future__ import annotations

import io

from camcloud_cli.progress import progress


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_off_a_terminal_progress_is_a_plain_line_per_tenth() -> None:
    out = io.StringIO()
    with progress("time-lapse garden", "frames", out=out) as report:
        for done in range(1, 201):
            report(done, 200)
    lines = out.getvalue().splitlines()
    assert lines[0] == "time-lapse garden: 1/200 frames (0%)"
    assert lines[1] == "time-lapse garden: 20/200 frames (10%)"
    assert lines[-1] == "time-lapse garden: 200/200 frames (100%)"
    assert len(lines) == 11 and "\r" not in out.getvalue()


def test_an_unknown_total_in_bytes_is_a_line_per_thousand_kib() -> None:
    out = io.StringIO()
    with progress("export garden", "KiB", out=out, scale=1024) as report:
        for done in range(0, 3 * 1024 * 1024 + 1, 64 * 1024):
            report(done, None)
    # 64 KiB chunks: the first report past each thousand KiB
    assert out.getvalue().splitlines() == ["export garden: 0 KiB", "export garden: 1024 KiB",
                                           "export garden: 2048 KiB", "export garden: 3008 KiB"]


def test_on_a_terminal_progress_is_a_bar_redrawn_in_place() -> None:
    out = Terminal()
    with progress("time-lapse garden", "frames", out=out) as report:
        for done in range(1, 11):
            report(done, 10)
    text = out.getvalue()
    # tqdm redraws with carriage returns (no new lines) and clears the bar when done
    assert text.startswith("\rtime-lapse garden") and "\n" not in text
