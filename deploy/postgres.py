"""A private PostgreSQL cluster in a data directory, on a port of our choosing.

PostgreSQL refuses to run as root, so when we are root (CI, this machine's
sessions) the server runs as the `postgres` account Debian's package creates.
The binaries come from the machine: PATH, then /usr/lib/postgresql/<newest>/bin.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from deploy.logs import tail

SERVER_USER = "postgres"


class PostgresError(RuntimeError):
    pass


def find_bindir() -> Path:
    """The directory holding initdb/pg_ctl/postgres, or PostgresError saying how to get them."""
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(os.path.realpath(on_path)).parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    if versions:
        return versions[-1].parent
    raise PostgresError(
        "no PostgreSQL server binaries found (pg_ctl). Install them with `apt-get install -y postgresql` "
        "(deploy/bootstrap.sh does this), or set HUBSTREAM_DATABASE_URL to a running server."
    )


def _running_as_root() -> bool:
    return os.geteuid() == 0


def _server_user_can_reach(path: Path) -> bool:
    """Whether the postgres account can traverse to `path` (root's home, say, is closed to it)."""
    result = subprocess.run(
        ["runuser", "-u", SERVER_USER, "--", "test", "-x", str(path)], capture_output=True, check=False
    )
    return result.returncode == 0


def data_dir_for(home: Path) -> Path:
    """`home/pg`, unless the server account cannot reach it; then a stable place under /var/tmp."""
    wanted = home.resolve() / "pg"
    if not _running_as_root() or _server_user_can_reach(home.resolve()):
        return wanted
    digest = hashlib.sha1(str(wanted).encode()).hexdigest()[:12]
    return Path("/var/tmp") / f"hubstream-pg-{digest}"


@dataclass
class LocalPostgres:
    data_dir: Path
    port: int
    log_file: Path
    durable: bool = True
    """False for throw-away test clusters: no fsync, so tests do not wait on the disk."""

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def database_url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(find_bindir() / args[0]), *args[1:]]
        if _running_as_root():
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if check and result.returncode != 0:
            raise PostgresError(f"{args[0]} failed ({result.returncode}): {result.stderr.strip() or result.stdout}")
        return result

    def _prepare_dirs(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.touch(exist_ok=True)
        if _running_as_root():
            account = pwd.getpwnam(SERVER_USER)
            for path in (self.data_dir, self.log_file):
                os.chown(path, account.pw_uid, account.pw_gid)
            if not _server_user_can_reach(self.log_file.parent):
                raise PostgresError(f"the {SERVER_USER} account cannot reach {self.log_file.parent}")
        self.data_dir.chmod(0o700)

    @property
    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def init(self) -> bool:
        """Create the cluster if it is not there yet; True if it was created now."""
        self._prepare_dirs()
        if self.initialized:
            return False
        self._run("initdb", "-D", str(self.data_dir), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale")
        return True

    def is_running(self) -> bool:
        if not self.initialized:
            return False
        return self._run("pg_ctl", "status", "-D", str(self.data_dir), check=False).returncode == 0

    def server_options(self) -> list[str]:
        options = ["-p", str(self.port), "-c", "listen_addresses=127.0.0.1", "-k", str(self.data_dir)]
        options += ["-c", "max_connections=200"]
        if not self.durable:
            options += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        return options

    def start(self) -> None:
        """Start the server in the background with pg_ctl (tests and benchmarks; `up` uses `spawn`)."""
        if self.is_running():
            self._check_port()
            return
        self._run(
            "pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data_dir), "-l", str(self.log_file),
            "-o", " ".join(self.server_options()),
        )  # fmt: skip

    def _check_port(self) -> None:
        if (port := self.running_port()) not in (None, self.port):
            raise PostgresError(
                f"the cluster in {self.data_dir} already runs on port {port}, not {self.port}: "
                f"stop it, or set HUBSTREAM_PG_PORT={port}"
            )

    def spawn(self) -> subprocess.Popen[bytes]:
        """The postmaster as a child of ours, in the foreground, so that we see it exit (and why)."""
        account: dict[str, object] = {}
        if _running_as_root():
            server = pwd.getpwnam(SERVER_USER)
            account = {"user": server.pw_uid, "group": server.pw_gid, "extra_groups": []}
        with self.log_file.open("ab") as log:
            return subprocess.Popen(
                [str(find_bindir() / "postgres"), "-D", str(self.data_dir), *self.server_options()],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                start_new_session=True,  # Ctrl-C reaches the supervisor, which stops the server last
                **account,  # type: ignore[arg-type]
            )

    def wait_ready(
        self, process: subprocess.Popen[bytes], timeout: float = 60.0, should_stop: Callable[[], bool] = lambda: False
    ) -> None:
        """Until the server spawned as `process` accepts connections; PostgresError if it exits first."""
        deadline = time.monotonic() + timeout
        ready = [str(find_bindir() / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port), "-t", "2"]
        while True:
            if should_stop():
                raise PostgresError("interrupted while PostgreSQL was starting")
            if process.poll() is not None:
                raise PostgresError(
                    f"PostgreSQL exited with code {process.returncode} while starting; see {self.log_file}:\n"
                    + tail(self.log_file, 20)
                )
            if subprocess.run(ready, check=False).returncode == 0:
                return
            if time.monotonic() > deadline:
                raise PostgresError(
                    f"PostgreSQL did not accept connections within {timeout:.0f} s; see {self.log_file}"
                )
            time.sleep(0.2)

    def stop(self) -> None:
        if self.is_running():
            self._run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data_dir))

    def crash(self) -> None:
        """Stop at once, without a checkpoint, as a power cut would: the next start runs crash recovery."""
        self._run("pg_ctl", "stop", "-w", "-m", "immediate", "-D", str(self.data_dir))

    def create_database(self, name: str) -> bool:
        """Create `name` if missing; True if created now."""
        psql = [str(find_bindir() / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-Atq"]

        def run(sql: str) -> str:
            result = subprocess.run([*psql, "-c", sql], capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise PostgresError(f"psql on port {self.port} failed: {result.stderr.strip() or result.stdout}")
            return result.stdout.strip()

        if run(f"SELECT 1 FROM pg_database WHERE datname = '{name}'"):
            return False
        run(f'CREATE DATABASE "{name}"')
        return True

    def running_port(self) -> int | None:
        """The port the cluster in `data_dir` listens on, if it runs (line 4 of postmaster.pid)."""
        try:
            return int((self.data_dir / "postmaster.pid").read_text().splitlines()[3])
        except (OSError, IndexError, ValueError):
            return None


def temporary(port: int) -> LocalPostgres:
    """A throw-away cluster for tests, in a directory the server account can reach."""
    base = Path(tempfile.mkdtemp(prefix="hubstream-pg-"))
    base.chmod(0o755)
    return LocalPostgres(data_dir=base / "data", port=port, log_file=base / "postgres.log", durable=False)


def stop_process(process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Stop a postmaster we spawned: SIGINT is PostgreSQL's fast shutdown (what `pg_ctl stop -m fast` sends)."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGQUIT)  # immediate shutdown: recovery runs at the next start
        process.wait()
