"""Where the local stack keeps its state, and how to tell whether it runs.

Everything lives under `HUBSTREAM_HOME` (`.hubstream/`). A running `up` holds
an exclusive lock on `run/up.lock`: that, not a pid, says whether the stack
runs (a pid in an old state file may belong to someone else by now).
`run/stack.json` says what runs where.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from deploy import broker, postgres
from deploy.supervision import RestartPolicy
from services.runtime.settings import InfraSettings


class StackSettings(BaseSettings):
    """The local stack's infrastructure ports and how `up` supervises its processes.

    The services' own ports are HUBSTREAM_<SERVICE>_PORT. Every default port lies below 32768, outside
    Linux's ephemeral range, where the local end of any outgoing connection may hold a port for a while.
    """

    model_config = SettingsConfigDict(env_prefix="HUBSTREAM_", frozen=True, extra="ignore")

    pg_port: int = 15432
    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    # A SecretStr, so a dump of these settings (a repr in a log or traceback) shows '**********'.
    admin_token: SecretStr | None = Field(default=None, description="Use this token for `admin` instead of a new one.")
    restart_limit: int = Field(default=5, ge=0, description="Restarts allowed per process within restart_window.")
    restart_window: float = Field(default=600.0, gt=0, description="Seconds.")
    restart_backoff_max: float = Field(default=30.0, gt=0, description="Longest wait before a restart, in seconds.")
    bind_retry: float = Field(default=10.0, ge=0, description="Seconds to retry a port that is in use at start.")

    def restart_policy(self) -> RestartPolicy:
        return RestartPolicy(limit=self.restart_limit, window=self.restart_window, backoff_max=self.restart_backoff_max)


@dataclass
class Layout:
    home: Path
    settings: StackSettings

    @classmethod
    def from_env(cls) -> Layout:
        return cls(home=InfraSettings().home.resolve(), settings=StackSettings())

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def state_file(self) -> Path:
        return self.home / "run" / "stack.json"

    @property
    def token_file(self) -> Path:
        return self.home / "admin-token"

    def postgres(self) -> postgres.LocalPostgres:
        data_dir = postgres.data_dir_for(self.home)
        # The server account writes the log: beside the data when the home is closed to it.
        log_file = self.logs / "postgres.log" if data_dir.is_relative_to(self.home) else data_dir.with_suffix(".log")
        return postgres.LocalPostgres(data_dir=data_dir, port=self.settings.pg_port, log_file=log_file)

    def kafka(self) -> broker.LocalKafka:
        return broker.LocalKafka(
            home=self.home / "kafka", port=self.settings.kafka_port, controller_port=self.settings.kafka_controller_port
        )

    def read_state(self) -> dict | None:
        try:
            return json.loads(self.state_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    @property
    def lock_file(self) -> Path:
        return self.home / "run" / "up.lock"

    def write_state(self, state: dict) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        write_private(tmp, json.dumps(state, indent=2))
        tmp.replace(self.state_file)

    def running(self) -> bool:
        """Whether an `up` supervisor holds this home's lock (a pid alone can be stale or reused)."""
        try:
            fd = os.open(self.lock_file, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (it may hold a token or a database URL)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is not alive for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return True


def ours(pid: int | None) -> bool:
    """Whether `pid` is still one of our processes (a pid from an old state file may be reused)."""
    if not pid_alive(pid):
        return False
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"services.cli" in command or b"kafka.Kafka" in command


def operator_settings() -> InfraSettings:
    """Settings for operator commands: the environment, else the stack `up` runs from this home."""
    infra = InfraSettings()
    layout = Layout(home=infra.home.resolve(), settings=StackSettings())
    state = layout.read_state()
    if not state or not layout.running():
        return infra
    overrides = {k: v for k, v in state.get("env", {}).items() if k not in os.environ}
    if not overrides:
        return infra
    return InfraSettings(**{k.removeprefix("HUBSTREAM_").lower(): v for k, v in overrides.items()})
