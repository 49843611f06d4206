"""Progress reports for long batched runs (a tqdm bar, or stderr lines)."""
from __future__ import annotations

import sys


class ProgressReporter:
    """Reports "done n of total" every ``every`` examples (None: silent).

    Uses a tqdm bar when tqdm is installed and stderr lines otherwise.
    """

    def __init__(self, total: int, every: int | None, description: str = "examples"):
        self._every = every
        self._total = total
        self._done = 0
        self._next_report = every or 0
        self._bar = None
        if every:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self._bar = tqdm(total=total, desc=description, unit="ex",
                                 miniters=every, leave=False)

    def update(self, count: int) -> None:
        if not self._every:
            return
        self._done += count
        if self._bar is not None:
            self._bar.update(count)
        elif self._done >= self._next_report or self._done == self._total:
            sys.stderr.write(f"Done {self._done} of {self._total} examples\n")
            while self._next_report <= self._done:
                self._next_report += self._every

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
