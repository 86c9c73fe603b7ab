"""Progress reporting: a live bar on a terminal (tqdm), periodic plain log
lines otherwise (Slurm logs, pipes)."""

from __future__ import annotations

import logging
import sys
import time


def flush_notices() -> None:
    """Print the notices the CLI holds back (``backend auto -> cpu``): the
    work starts now, so they are news, not noise in front of an error."""
    for handler in logging.getLogger().handlers:  # the root's: where the CLI holds them
        handler.flush()


class Progress:
    """``with Progress(total, "run") as p: p.update(n, tumour_cells=...)``"""

    def __init__(self, total: int, desc: str, enabled: bool = True, every_s: float = 30.0, stream=None):
        self.total, self.desc, self.every_s = total, desc, every_s
        self.stream = stream or sys.stderr
        self.enabled = enabled and total > 0
        self.done = 0
        self._bar = None
        self._t0 = self._last = time.monotonic()
        flush_notices()
        if self.enabled and self.stream.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit="step", file=self.stream, dynamic_ncols=True)

    def update(self, n: int = 1, **info) -> None:
        self.done += n
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(n)
            if info:
                self._bar.set_postfix(info, refresh=False)
            return
        now = time.monotonic()
        if now - self._last >= self.every_s or self.done == self.total:
            self._last = now
            rate = self.done / max(now - self._t0, 1e-9)
            eta = (self.total - self.done) / rate if rate > 0 else float("inf")
            extra = " ".join(f"{k}={v}" for k, v in info.items())
            print(f"[{self.desc}] {self.done}/{self.total} steps ({100 * self.done / self.total:.0f}%), "
                  f"{rate:.1f} steps/s, ETA {eta:.0f} s {extra}".rstrip(), file=self.stream, flush=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.close()
