"""How the stack supervisor decides to restart a process: a restart budget per time window, with backoff.

A process that exits is restarted after a delay that doubles with each restart still inside the
window (1 s, 2 s, 4 s ... up to a ceiling), as long as it has been restarted fewer than `limit`
times within the last `window` seconds. Past that budget the supervisor gives up and stops the stack:
a process that keeps dying needs an operator, not a loop. Old restarts leave the window, so a crash
a week is never fatal (the old MAX_RESTARTS counted for the life of the supervisor).
"""

from __future__ import annotations

import signal
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RestartPolicy:
    limit: int = 5
    """Restarts allowed per process within `window`."""
    window: float = 600.0
    """Seconds."""
    backoff_base: float = 1.0
    backoff_max: float = 30.0

    @property
    def window_text(self) -> str:
        if self.window >= 120 and self.window % 60 == 0:
            return f"{self.window / 60:.0f} minutes"
        return f"{self.window:g} s"

    def describe(self) -> str:
        return f"{self.limit} restart(s) in {self.window_text}"


class RestartBudget:
    """The restarts of one process within a sliding window, and the delay before the next one."""

    def __init__(self, policy: RestartPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self.clock = clock
        self._restarts: deque[float] = deque()

    def _forget_old(self) -> None:
        horizon = self.clock() - self.policy.window
        while self._restarts and self._restarts[0] <= horizon:
            self._restarts.popleft()

    @property
    def recent(self) -> int:
        """Restarts within the window, up to now."""
        self._forget_old()
        return len(self._restarts)

    def spend(self) -> float | None:
        """Take one restart from the budget: the delay to wait before it, or None when the budget is spent."""
        recent = self.recent
        if recent >= self.policy.limit:
            return None
        self._restarts.append(self.clock())
        return min(self.policy.backoff_max, self.policy.backoff_base * 2**recent)


def describe_exit(code: int) -> str:
    """A process's exit status in words: `Popen.returncode` is -N when signal N ended it."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "an unknown signal"
        return f"was killed by {name} (signal {-code})"
    if code == 0:
        return "exited on its own (code 0)"
    if code > 128:
        # A shell or a JVM reports death by signal N as 128 + N.
        try:
            return f"exited with code {code} (128 + {signal.Signals(code - 128).name})"
        except ValueError:
            pass
    return f"exited with code {code}"
