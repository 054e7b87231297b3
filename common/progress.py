"""Progress for long work: tqdm on the console and an optional callback (the Luigi UI).

Plain functions take a `report` callable `(percent, message)`; Luigi tasks pass one that
calls `set_progress_percentage` and `set_status_message`. Calls are throttled.
"""
import time
from typing import Callable, Optional

from tqdm import tqdm

Report = Callable[[int, str], None]


class Progress:
    def __init__(self, total: Optional[int], desc: str, report: Optional[Report] = None,
                 unit: str = "line", min_interval: float = 2.0):
        self.bar = tqdm(total=total, desc=desc, unit=unit, unit_scale=True,
                        mininterval=1.0, leave=False, dynamic_ncols=True)
        self.total, self.desc, self.report = total, desc, report
        self.done, self.min_interval, self._last = 0, min_interval, 0.0

    def update(self, n: int = 1) -> None:
        self.done += n
        self.bar.update(n)
        now = time.monotonic()
        if self.report and now - self._last >= self.min_interval:
            self._last = now
            self._send()

    def _send(self) -> None:
        percent = int(100 * self.done / self.total) if self.total else 0
        suffix = f"/{self.total}" if self.total else ""
        self.report(min(percent, 100), f"{self.desc}: {self.done}{suffix} {self.bar.unit}s")

    def close(self) -> None:
        self.bar.close()
        if self.report:
            self._send()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
