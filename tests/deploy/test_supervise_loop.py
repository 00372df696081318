"""The supervisor's loop on real (tiny) processes: restarts with backoff, a failed restart, a spent budget."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from deploy import postgres
from deploy.broker import BrokerError
from deploy.layout import Layout, StackSettings
from deploy.stack import PROCESSES, Stack, StackError
from deploy.supervision import RestartPolicy
from services.runtime.settings import InfraSettings


def exits(code: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", f"import sys; sys.exit({code})"])


class StartsOnce:
    """A launch whose process exits at once, and whose every later start fails with `error`."""

    def __init__(self, error: Exception) -> None:
        self.error, self.calls = error, 0

    def __call__(self) -> subprocess.Popen[bytes]:
        self.calls += 1
        if self.calls == 1:
            return exits(1)
        raise self.error


def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Stack:
    monkeypatch.setenv("HUBSTREAM_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/x")  # nothing connects to it
    monkeypatch.setenv("HUBSTREAM_KAFKA", "127.0.0.1:1")
    stack = Stack(Layout(home=tmp_path, settings=StackSettings()))
    stack.policy = RestartPolicy(limit=2, window=600, backoff_base=0.05, backoff_max=0.2)
    return stack


def test_a_process_that_keeps_exiting_is_restarted_then_stops_the_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    s = stack(tmp_path, monkeypatch)
    s.supervised("catalog-relay", lambda: exits(3), tmp_path / "relay.log", infra=False)
    s.units["catalog-relay"].start()
    with pytest.raises(StackError) as stopped:
        s.supervise()
    assert "catalog-relay exited with code 3 after 2 restart(s) within 10 minutes" in str(stopped.value)
    out = capsys.readouterr().out
    assert "catalog-relay exited with code 3; restarting it in 0.05 s (restart 1 of the 2 allowed" in out
    assert "catalog-relay exited with code 3; restarting it in 0.1 s (restart 2 of the 2 allowed" in out
    record = s.layout.read_state()["processes"]["catalog-relay"]  # type: ignore[index]
    assert record["restarts"] == 2
    assert record["last_exit"] == 3
    assert record["last_exit_reason"] == "exited with code 3"


def test_a_restart_that_fails_to_start_counts_against_the_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    s = stack(tmp_path, monkeypatch)
    launch = StartsOnce(postgres.PostgresError("PostgreSQL exited with code 1 while starting"))
    s.supervised("postgres", launch, tmp_path / "pg.log", infra=True)
    s.units["postgres"].start()
    with pytest.raises(StackError, match="postgres did not start again after 2 restart"):
        s.supervise()
    assert launch.calls == 3
    assert "postgres did not come back: PostgreSQL exited with code 1 while starting" in capsys.readouterr().out
    record = s.layout.read_state()["postgres"]  # type: ignore[index]
    assert record["restarts"] == 2
    assert record["last_exit_reason"] == "did not start again"


def test_services_wait_for_the_database_and_the_broker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A service is not restarted (nor its budget spent on a restart) while the infrastructure is down."""
    s = stack(tmp_path, monkeypatch)
    s.supervised("kafka", StartsOnce(BrokerError("the Kafka broker exited")), tmp_path / "kafka.log", infra=True)
    s.supervised("ingest-worker", lambda: exits(2), tmp_path / "worker.log", infra=False)
    for unit in s.units.values():
        unit.start()
    with pytest.raises(StackError, match="kafka did not start again after 2 restart"):
        s.supervise()
    assert "ingest-worker restarted" not in capsys.readouterr().out
    assert s.units["ingest-worker"].restarts == 0


def test_each_process_keeps_one_consumer_group_name_of_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A worker restarted after a crash takes its partitions back at once only under the name it had (static
    # membership); two processes under one name would fence each other, in one stack or in two sharing a broker.
    first, again = stack(tmp_path / "a", monkeypatch), stack(tmp_path / "a", monkeypatch)
    other = stack(tmp_path / "b", monkeypatch)
    names = [first.instance(spec) for spec in PROCESSES]
    assert len(set(names)) == len(PROCESSES)
    assert names == [again.instance(spec) for spec in PROCESSES]
    assert not set(names) & {other.instance(spec) for spec in PROCESSES}


def test_each_process_is_started_under_its_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = stack(tmp_path, monkeypatch)
    s.layout.logs.mkdir(parents=True, exist_ok=True)
    names: dict[tuple[str, ...], str] = {}

    def popen(args: list[str], env: dict[str, str], **_: object) -> None:
        names[tuple(args[3:])] = env["HUBSTREAM_INSTANCE"]

    monkeypatch.setattr(subprocess, "Popen", popen)
    for spec in PROCESSES:
        s.spawn(spec)
    assert names == {spec.args: s.instance(spec) for spec in PROCESSES}
    monkeypatch.setenv("HUBSTREAM_INSTANCE", names[PROCESSES[0].args])
    assert InfraSettings().instance == names[PROCESSES[0].args]  # what the process's consumers are named after
