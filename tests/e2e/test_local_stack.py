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


class Up:
    """`hubstream up` in the background, with its output readable line by line."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [*HUBSTREAM, "up"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 180.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"`hubstream up` never printed {text!r}; it printed:\n" + "\n".join(self.seen))


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

        status = run(env, "status")
        assert status.returncode == 0, status.stdout + status.stderr
        for name in ("catalog-api", "catalog-relay", "ingest-api", "ingest-worker", "versioning-relay", "kafka"):
            assert name in status.stdout
        assert len(re.findall(r"\sready$", status.stdout, re.MULTILINE)) == 3

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
        started = tail.stderr.readline()  # "tailing ..." once it sits at the end of the topic
        assert "tailing" in started, started
        request = urllib.request.Request(
            f"{ingest_url}/v2/huggingface-datasets",
            data=json.dumps({"url": "someone/some-dataset"}).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            source = json.load(response)
        out, err = tail.communicate(timeout=30)
        err = started + err
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
        lookup = urllib.request.Request(
            f"{ingest_url}/v2/data-sources/{source['id']}", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(lookup, timeout=10) as response:
            assert json.load(response)["id"] == source["id"]
        again.process.send_signal(signal.SIGINT)
        assert again.process.wait(60) == 0
        assert run(env, "status").returncode == 3
    finally:
        run(env, "down")
        data_dir = postgres.data_dir_for(home)
        shutil.rmtree(data_dir, ignore_errors=True)
        data_dir.with_suffix(".log").unlink(missing_ok=True)


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
