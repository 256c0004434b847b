"""The terminal: whether a stream is one, whether to colour, and a progress line for long runs.

What the command line decides about its output by looking at where it goes; nothing here
renders a report.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

# A cold run of a large project takes seconds: after this long, stderr shows that it is busy
PROGRESS_AFTER = 1.0


def is_terminal(stream: TextIO | None) -> bool:
    """Whether ``stream`` is a terminal (a closed standard stream is None: not one)."""
    try:
        return stream is not None and stream.isatty()
    except (OSError, ValueError):
        return False


def use_color(choice: str, output: str | None) -> bool:
    """``always``/``never`` as said; ``auto``: a terminal and no $NO_COLOR (no-color.org: a
    command-line choice wins over the variable)."""
    if choice != "auto":
        return choice == "always"
    if os.environ.get("NO_COLOR"):
        return False
    return output is None and is_terminal(sys.stdout)


@contextmanager
def progress(enabled: bool = True, stream: TextIO | None = None) -> Iterator[None]:
    """Shows ``conformance: analysing… N s`` on ``stream`` (stderr) while the body runs longer
    than PROGRESS_AFTER seconds, on a terminal only (nothing when piped or in CI logs), and
    clears the line at the end. The analysis reports no steps, so it shows time, not a share."""
    out = stream or sys.stderr
    if not enabled or out is None or not is_terminal(out):
        yield
        return
    done = threading.Event()
    shown: list[bool] = []
    start = time.monotonic()

    def tick() -> None:
        while not done.wait(PROGRESS_AFTER if not shown else 0.5):
            shown.append(True)
            out.write(f"\rconformance: analysing… {time.monotonic() - start:.0f} s")
            out.flush()

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        if shown:
            out.write("\r\x1b[K")
            out.flush()
