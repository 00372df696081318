"""The restart budget and backoff of the stack supervisor, as a plain class on a clock we move by hand."""

from __future__ import annotations

import signal

from deploy.supervision import RestartBudget, RestartPolicy, describe_exit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_budget_allows_limit_restarts_within_the_window_then_refuses() -> None:
    clock = Clock()
    budget = RestartBudget(RestartPolicy(limit=3, window=600), clock)
    for _ in range(3):
        assert budget.spend() is not None
        clock.now += 10
    assert budget.recent == 3
    assert budget.spend() is None  # a fourth exit within ten minutes: give up
    assert budget.recent == 3  # a refused restart is not a restart


def test_restarts_leave_the_window_so_a_crash_a_week_is_never_fatal() -> None:
    clock = Clock()
    budget = RestartBudget(RestartPolicy(limit=2, window=600), clock)
    for _ in range(50):  # the old MAX_RESTARTS counted these for the life of the supervisor
        assert budget.spend() is not None
        clock.now += 7 * 24 * 3600
    clock.now = 0.0
    budget = RestartBudget(RestartPolicy(limit=2, window=600), clock)
    assert budget.spend() is not None
    clock.now = 300.0
    assert budget.spend() is not None
    clock.now = 599.0
    assert budget.spend() is None  # both still inside the window
    clock.now = 601.0  # the first left it
    assert budget.spend() is not None
    assert budget.recent == 2


def test_the_backoff_doubles_within_the_window_up_to_a_ceiling_and_starts_over_after_it() -> None:
    clock = Clock()
    budget = RestartBudget(RestartPolicy(limit=10, window=600, backoff_base=1.0, backoff_max=20.0), clock)
    delays = []
    for _ in range(7):
        delays.append(budget.spend())
        clock.now += 1
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 20.0, 20.0]
    clock.now += 600
    assert budget.spend() == 1.0


def test_a_limit_of_zero_never_restarts() -> None:
    assert RestartBudget(RestartPolicy(limit=0), Clock()).spend() is None


def test_exits_are_said_in_words() -> None:
    assert describe_exit(-signal.SIGKILL) == "was killed by SIGKILL (signal 9)"
    assert describe_exit(-signal.SIGSEGV) == "was killed by SIGSEGV (signal 11)"
    assert describe_exit(0) == "exited on its own (code 0)"
    assert describe_exit(1) == "exited with code 1"
    assert describe_exit(137) == "exited with code 137 (128 + SIGKILL)"
    assert RestartPolicy(limit=5, window=600).describe() == "5 restart(s) in 10 minutes"
