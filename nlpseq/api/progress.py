"""A one-line progress count on standard error for long batch calls (tagging or translating a file).

It goes to standard error so that the results on standard output stay clean to pipe, and the
CLI turns it on only when standard error is a terminal.
"""

import sys
import time


class Progress:
    """Counts finished items and redraws "  1,024/3,453 sentences  812/s" in place.

    Args:
        total: the number of items the call will finish.
        unit: what an item is, plural ("sentences").
        enabled: False makes every method a no-op (the Python API's default).
        stream: where to draw; standard error when None.
    """

    def __init__(self, total, unit, enabled, stream=None):
        self.total, self.unit, self.enabled = total, unit, enabled and total > 0
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0
        self.started = time.perf_counter()

    def advance(self, count):
        """Adds `count` finished items and redraws the line."""
        if not self.enabled:
            return
        self.done += count
        rate = self.done / max(time.perf_counter() - self.started, 1e-9)
        self.stream.write(f"\r  {self.done:,}/{self.total:,} {self.unit}  {rate:,.0f}/s")
        self.stream.flush()

    def close(self):
        """Ends the line, so later output starts on a fresh one."""
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
