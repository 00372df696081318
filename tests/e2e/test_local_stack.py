"""The README's run command: `hubstream up` brings the whole stack up, `down` and Ctrl-C stop it.

This runs the real command in a subprocess, with its own PostgreSQL cluster and
Kafka broker, on free ports and a private HUBSTREAM_HOME.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO

from deploy import postgres
from tests.conftest import free_port

HUBSTREAM = [sys.executable, "-m", "services.cli"]


def stack_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUBSTREAM_")}
    env.update(
        HUBSTREAM_HOME=str(home),
        HUBSTREAM_PG_PORT=str(free_port()),
        HUBSTREAM_KAFKA_PORT=str(free_port()),
        HUBSTREAM_KAFKA_CONTROLLER_PORT=str(free_port()),
        HUBSTREAM_CATALOG_PORT=str(free_port()),
        HUBSTREAM_INGEST_PORT=str(free_port()),
        HUBSTREAM_VERSIONING_PORT=str(free_port()),
    )
    return env


class Lines:
    """A process's output read line by line by a thread, so that every read can time out."""

    def __init__(self, process: subprocess.Popen[str], stream: IO[str], name: str) -> None:
        self.process, self.name = process, name
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 180.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.process.poll() is not None and self.lines.empty():
                    break
                continue
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(
            f"{self.name} never printed {text!r} within {timeout:.0f} s; it printed:\n" + "\n".join(self.seen)
        )


class Up(Lines):
    """`hubstream up` in the background, with its output readable line by line."""

    def __init__(self, env: dict[str, str]) -> None:
        process = subprocess.Popen(
            [*HUBSTREAM, "up"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert process.stdout is not None
        super().__init__(process, process.stdout, "`hubstream up`")


STATUS_ROW = re.compile(
    r"^(?P<name>\S+)\s+(?P<pid>\S+)\s+(?P<address>\S+)\s+(?P<state>ready|not ready|running|exited|external)"
    r"\s+(?P<restarts>\d+)\s+(?P<last_exit>.*)$"
)


def status_rows(env: dict[str, str]) -> dict[str, dict[str, str]]:
    """`hubstream status`, one dict per process."""
    status = run(env, "status")
    assert status.returncode == 0, status.stdout + status.stderr
    rows = {m["name"]: m.groupdict() for line in status.stdout.splitlines() if (m := STATUS_ROW.match(line))}
    assert "supervisor" in rows, status.stdout
    return rows


def clean_up(env: dict[str, str], home: Path) -> None:
    """Stop what a test's stack left running and remove its PostgreSQL data (it may live outside the home)."""
    run(env, "down")
    data_dir = postgres.data_dir_for(home)
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.with_suffix(".log").unlink(missing_ok=True)


def run(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HUBSTREAM, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)


def test_up_runs_the_stack_and_down_and_ctrl_c_stop_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = stack_env(home)
    ingest_url = f"http://127.0.0.1:{env['HUBSTREAM_INGEST_PORT']}"
    try:
        up = Up(env)
        token = up.wait_for("admin token").split()[2]
        assert token.startswith("hf_")
        assert (home / "admin-token").read_text().strip() == token
        banner = "\n".join(up.seen)
        for port in ("HUBSTREAM_CATALOG_PORT", "HUBSTREAM_INGEST_PORT", "HUBSTREAM_VERSIONING_PORT"):
            assert f"http://127.0.0.1:{env[port]}" in banner

        rows = status_rows(env)
        for name in ("catalog-relay", "ingest-relay", "ingest-worker", "versioning-relay", "kafka", "postgres"):
            assert rows[name]["state"] == "running", rows[name]
        for name in ("catalog-api", "ingest-api", "versioning-api"):
            assert rows[name]["state"] == "ready", rows[name]
        assert all(row["restarts"] == "0" and row["last_exit"] == "-" for row in rows.values()), rows

        second = run(env, "up")  # the first holds the home's lock: no second broker on the same files
        assert second.returncode == 0
        assert "already running" in second.stdout

        tail = subprocess.Popen(
            [*HUBSTREAM, "events", "tail", "hubstream.ingest.requests", "--limit", "1"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert tail.stderr is not None
        started = Lines(tail, tail.stderr, "`events tail`").wait_for("tailing", timeout=60)  # at the topic's end
        source = post_source(ingest_url, token, "someone/some-dataset")
        out = tail.communicate(timeout=30)[0]  # stderr stays with its reader thread
        err = started
        assert "hubstream.ingest.index.requested.v1" in out, err
        assert f"key={source['id']}" in out
        assert '"dataset":"someone/some-dataset"' in out

        for query in (f"?token={token}", ""):  # refused or not, the token is not written to a log
            with contextlib.suppress(urllib.error.HTTPError):
                urllib.request.urlopen(f"{ingest_url}/v2/data-sources/{source['id']}{query}", timeout=10).close()

        down = run(env, "down")
        assert down.returncode == 0, down.stdout + down.stderr
        assert up.process.wait(60) == 0
        logs = {p: p.read_text(errors="replace") for p in (home / "logs").rglob("*") if p.is_file()}
        assert any("/v2/huggingface-datasets" in text for text in logs.values())  # the API's access log is there
        assert [p.name for p, text in logs.items() if token in text] == []  # the banner is for the terminal only
        assert not (home / "run" / "stack.json").exists()

        # A second `up` reuses the data: same token, the source is still there; Ctrl-C stops it.
        again = Up(env)
        assert again.wait_for("admin token").split()[2] == token
        assert get_source(ingest_url, token, source["id"])["id"] == source["id"]
        again.process.send_signal(signal.SIGINT)
        assert again.process.wait(60) == 0
        assert run(env, "status").returncode == 3
    finally:
        clean_up(env, home)


def test_down_with_a_stale_state_file_touches_no_stranger(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = stack_env(home)
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        state = {"supervisor_pid": stranger.pid, "processes": {"catalog-api": {"pid": stranger.pid, "url": None}}}
        (home / "run").mkdir(parents=True)
        (home / "run" / "stack.json").write_text(json.dumps(state))
        assert run(env, "status").returncode == 3  # no supervisor holds the lock: not running
        down = run(env, "down")
        assert down.returncode == 0
        assert "left running" in down.stdout
        assert stranger.poll() is None  # a reused pid is not ours to stop
        assert not (home / "run" / "stack.json").exists()
    finally:
        stranger.kill()
        stranger.wait()


def post_source(ingest_url: str, token: str, dataset: str, timeout: float = 60.0) -> dict:
    """POST a source, retried while a service is still coming back (a refused connection, a 5xx)."""
    request = urllib.request.Request(
        f"{ingest_url}/v2/huggingface-datasets",
        data=json.dumps({"url": dataset}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    return _retry(lambda: urllib.request.urlopen(request, timeout=10), timeout)


def get_source(ingest_url: str, token: str, source_id: str, timeout: float = 60.0) -> dict:
    request = urllib.request.Request(
        f"{ingest_url}/v2/data-sources/{source_id}", headers={"Authorization": f"Bearer {token}"}
    )
    return _retry(lambda: urllib.request.urlopen(request, timeout=10), timeout)


def _retry(call, timeout: float) -> dict:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        try:
            with call() as response:
                return json.load(response)
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            if isinstance(exc, urllib.error.HTTPError) and exc.code < 500:
                raise
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def state_of(home: Path) -> dict:
    return json.loads((home / "run" / "stack.json").read_text())


def test_up_restarts_the_broker_and_the_database_and_stops_when_a_restart_budget_is_spent(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = stack_env(home) | {"HUBSTREAM_RESTART_LIMIT": "3", "HUBSTREAM_RESTART_WINDOW": "600"}
    ingest_url = f"http://127.0.0.1:{env['HUBSTREAM_INGEST_PORT']}"
    try:
        up = Up(env)
        token = up.wait_for("admin token").split()[2]
        before = post_source(ingest_url, token, "someone/before-the-crashes")

        os.kill(state_of(home)["kafka"]["pid"], signal.SIGKILL)
        up.wait_for("kafka was killed by SIGKILL (signal 9); restarting it in 1 s", timeout=30)
        up.wait_for("kafka restarted", timeout=120)

        postmaster = state_of(home)["postgres"]["pid"]
        os.kill(postmaster, signal.SIGKILL)
        up.wait_for("postgres was killed by SIGKILL (signal 9); restarting it", timeout=30)
        up.wait_for("postgres restarted", timeout=120)

        rows = status_rows(env)
        for name in ("kafka", "postgres"):
            assert rows[name]["state"] == "running", rows
            assert rows[name]["restarts"] == "1", rows
            assert rows[name]["last_exit"].startswith("was killed by SIGKILL (signal 9) at "), rows
        assert rows["postgres"]["pid"] != str(postmaster)

        # The data stayed, and the path through the database, the relay and the broker works again.
        assert get_source(ingest_url, token, before["id"])["id"] == before["id"]
        after = post_source(ingest_url, token, "someone/after-the-crashes")
        tail = run(env, "events", "tail", "hubstream.ingest.requests", "--from-beginning", "--limit", "2", timeout=90)
        assert f"key={before['id']}" in tail.stdout, tail.stdout + tail.stderr
        assert f"key={after['id']}" in tail.stdout, tail.stdout + tail.stderr

        # A process that keeps dying spends its budget (3 restarts in 10 minutes): the stack stops, and says why.
        for kill in range(4):
            relay = state_of(home)["processes"]["catalog-relay"]["pid"]
            os.kill(relay, signal.SIGKILL)
            if kill < 3:
                up.wait_for("catalog-relay restarted", timeout=60)
        line = up.wait_for("restart budget", timeout=30)
        assert "catalog-relay was killed by SIGKILL (signal 9) after 3 restart(s) within 10 minutes" in line, line
        assert "(3 restart(s) in 10 minutes; HUBSTREAM_RESTART_LIMIT, HUBSTREAM_RESTART_WINDOW)" in line
        assert up.process.wait(60) == 1
        assert run(env, "status").returncode == 3
    finally:
        clean_up(env, home)
