"""A private `hubstream up` for the bench: its own home, ports, PostgreSQL and broker."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from deploy import postgres

HUBSTREAM = [sys.executable, "-m", "services.cli"]
SERVICES = ("catalog", "ingest", "versioning")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class StackInfo:
    token: str
    urls: dict[str, str]
    kafka: str
    database_url: str


class UpProcess:
    """`hubstream up` in the background, its output kept, stopped with `hubstream down`."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HUBSTREAM_")}
        ports = {
            "HUBSTREAM_PG_PORT": _free_port(),
            "HUBSTREAM_KAFKA_PORT": _free_port(),
            "HUBSTREAM_KAFKA_CONTROLLER_PORT": _free_port(),
            **{f"HUBSTREAM_{s.upper()}_PORT": _free_port() for s in SERVICES},
        }
        self.env.update({k: str(v) for k, v in ports.items()}, HUBSTREAM_HOME=str(home))
        self.process: subprocess.Popen[str] | None = None
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []

    def start(self, timeout: float = 240.0) -> StackInfo:
        self.process = subprocess.Popen(
            [*HUBSTREAM, "up"], env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        threading.Thread(target=self._pump, daemon=True).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if any("admin token" in line for line in self.output):
                return self.info()
            time.sleep(0.2)
        raise RuntimeError("`hubstream up` did not become ready; it printed:\n" + "\n".join(self.output[-40:]))

    def _pump(self) -> None:
        assert self.process is not None
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line.rstrip("\n"))

    def state(self) -> dict:
        return json.loads((self.home / "run" / "stack.json").read_text())

    def info(self) -> StackInfo:
        state = self.state()
        return StackInfo(
            token=(self.home / "admin-token").read_text().strip(),
            urls={s: f"http://127.0.0.1:{self.env[f'HUBSTREAM_{s.upper()}_PORT']}" for s in SERVICES},
            kafka=state["env"]["HUBSTREAM_KAFKA"],
            database_url=state["env"]["HUBSTREAM_DATABASE_URL"],
        )

    def pids(self, *, suffixes: tuple[str, ...]) -> dict[str, int]:
        """Pids of the service processes whose names end in one of `suffixes` (`-relay`, `-worker`)."""
        return {
            name: proc["pid"]
            for name, proc in self.state()["processes"].items()
            if name.endswith(suffixes) and proc.get("pid")
        }

    def kafka_pid(self) -> int:
        return int(self.state()["kafka"]["pid"])

    def postgres(self) -> postgres.LocalPostgres:
        pg = self.state()["postgres"]
        data_dir = Path(pg["data_dir"])
        return postgres.LocalPostgres(data_dir=data_dir, port=int(pg["port"]), log_file=data_dir.with_suffix(".log"))

    def stop(self) -> None:
        subprocess.run([*HUBSTREAM, "down"], env=self.env, capture_output=True, timeout=120, check=False)
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
        data_dir = postgres.data_dir_for(self.home)
        if not data_dir.is_relative_to(self.home):
            shutil.rmtree(data_dir, ignore_errors=True)
            data_dir.with_suffix(".log").unlink(missing_ok=True)
