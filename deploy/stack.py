"""`hubstream up / down / status`: the whole stack on one machine, without Docker.

`up` is a foreground supervisor. It starts (or reuses) a private PostgreSQL
cluster and a KRaft broker under `.hubstream/`, creates the topics the
contracts declare, migrates every service's schema, makes sure the `admin`
user and token exist, then starts each service process (API, outbox relay,
ingest worker), waits until every `/readyz` answers and prints the URLs and
the token. It restarts a process that dies and stops everything, in reverse
order (services, then the broker, then the database) on Ctrl-C or `hubstream
down`. It holds a lock on `.hubstream/run/up.lock` while it runs, and
`.hubstream/run/stack.json` says what runs where, for `status` and `down`.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from deploy import broker, postgres
from deploy.layout import Layout, StackSettings, ours, pid_alive, write_private
from services.runtime.db import redact
from services.runtime.settings import SERVICE_PORTS, HttpSettings, InfraSettings

DATABASE = "hubstream"
READY_TIMEOUT = 90.0
STOP_GRACE = 15.0
MAX_RESTARTS = 5


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    args: tuple[str, ...]
    service: str
    http: bool


PROCESSES: tuple[ProcessSpec, ...] = (
    ProcessSpec("catalog-api", ("serve", "catalog"), "catalog", True),
    ProcessSpec("catalog-relay", ("relay", "catalog"), "catalog", False),
    ProcessSpec("ingest-api", ("serve", "ingest"), "ingest", True),
    ProcessSpec("ingest-relay", ("relay", "ingest"), "ingest", False),
    ProcessSpec("ingest-worker", ("worker", "ingest"), "ingest", False),
    ProcessSpec("versioning-api", ("serve", "versioning"), "versioning", True),
    ProcessSpec("versioning-relay", ("relay", "versioning"), "versioning", False),
    ProcessSpec("versioning-worker", ("worker", "versioning"), "versioning", False),
)


def say(message: str) -> None:
    print(f"hubstream: {message}", flush=True)


@dataclass
class Child:
    spec: ProcessSpec
    process: subprocess.Popen[bytes]
    restarts: int = 0


class Stack:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.env = dict(os.environ)
        self.external_db = "HUBSTREAM_DATABASE_URL" in os.environ
        self.external_kafka = "HUBSTREAM_KAFKA" in os.environ
        self.pg = layout.postgres()
        self.kafka = layout.kafka()
        self.kafka_process: subprocess.Popen[bytes] | None = None
        self.children: dict[str, Child] = {}
        self.stopping = False

    # -- infrastructure -------------------------------------------------------------------------------

    def database_url(self) -> str:
        return os.environ["HUBSTREAM_DATABASE_URL"] if self.external_db else self.pg.database_url(DATABASE)

    def bootstrap(self) -> str:
        return os.environ["HUBSTREAM_KAFKA"] if self.external_kafka else self.kafka.bootstrap

    def start_postgres(self) -> None:
        if self.external_db:
            say(f"postgres: using HUBSTREAM_DATABASE_URL ({self.database_url().split('@')[-1]})")
            return
        started = time.monotonic()
        if self.pg.init():
            say(f"postgres: created a cluster in {self.pg.data_dir}")
        self.pg.start()
        self.pg.create_database(DATABASE)
        say(f"postgres: ready on 127.0.0.1:{self.pg.port} ({time.monotonic() - started:.1f} s)")

    def check_stopping(self) -> None:
        if self.stopping:
            raise StackError("interrupted while starting")

    def start_kafka(self) -> None:
        if self.external_kafka:
            say(f"kafka: using HUBSTREAM_KAFKA ({self.bootstrap()})")
            return
        started = time.monotonic()
        if not broker.has_jars(broker.libs_dir()):
            say("kafka: fetching the broker's jars from Maven Central (first run only)")
        broker.fetch_jars()
        if self.kafka.format():
            say(f"kafka: formatted a new KRaft log in {self.kafka.data_dir}")
        self.kafka_process = self.kafka.start(self.layout.logs / "kafka.log")
        self.kafka.wait_ready(self.kafka_process, should_stop=lambda: self.stopping)
        say(f"kafka: ready on {self.kafka.bootstrap} ({time.monotonic() - started:.1f} s)")

    def prepare(self) -> str:
        """Topics, schemas and the admin token; returns the token."""
        from services.cli import ensure_admin, migrate_all

        self.env.update(
            HUBSTREAM_DATABASE_URL=self.database_url(),
            HUBSTREAM_KAFKA=self.bootstrap(),
            HUBSTREAM_HOME=str(self.layout.home),
            **{f"HUBSTREAM_{s.upper()}_URL": HttpSettings.for_service(s).url for s in SERVICE_PORTS},
        )
        # The in-process steps use the same database and broker as the children, without changing our environment.
        infra = InfraSettings(database_url=self.database_url(), kafka=self.bootstrap())
        started = time.monotonic()
        applied = asyncio.run(migrate_all(infra))
        say(f"schemas and topics: ready ({applied} migration(s) applied, {time.monotonic() - started:.1f} s)")
        token = self.layout.settings.admin_token or _read_token(self.layout.token_file)
        token = asyncio.run(ensure_admin(infra, token))
        write_private(self.layout.token_file, token + "\n")
        return token

    # -- service processes ----------------------------------------------------------------------------

    def spawn(self, spec: ProcessSpec) -> subprocess.Popen[bytes]:
        log_path = self.layout.logs / f"{spec.name}.log"
        with log_path.open("ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "services.cli", *spec.args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches the supervisor, which stops children in order
            )

    def start_services(self) -> None:
        for spec in PROCESSES:
            self.children[spec.name] = Child(spec, self.spawn(spec))
        self.save_state()

    def wait_ready(self, token: str) -> None:
        """Until every API is ready and the admin token has reached the services that keep a copy."""
        deadline = time.monotonic() + READY_TIMEOUT
        pending = {spec.service for spec in PROCESSES if spec.http}
        while pending:
            for child in self.children.values():
                if child.process.poll() is not None:
                    raise StackError(
                        f"{child.spec.name} exited with code {child.process.returncode} while starting:\n"
                        + _tail(self.layout.logs / f"{child.spec.name}.log")
                    )
            for service in sorted(pending):
                if _ready(HttpSettings.for_service(service).url) and _token_accepted(service, token):
                    pending.discard(service)
            if self.stopping:
                raise StackError("interrupted while starting")
            if time.monotonic() > deadline:
                raise StackError(
                    f"not ready within {READY_TIMEOUT:.0f} s: {', '.join(sorted(pending))} (see {self.layout.logs})"
                )
            time.sleep(0.3)

    def supervise(self) -> None:
        while not self.stopping:
            for name, child in list(self.children.items()):
                code = child.process.poll()
                if code is None or self.stopping:
                    continue
                if child.restarts >= MAX_RESTARTS:
                    raise StackError(f"{name} keeps exiting (code {code}); see {self.layout.logs / (name + '.log')}")
                say(f"{name} exited with code {code}; restarting it (see {self.layout.logs / (name + '.log')})")
                time.sleep(1.0)
                self.children[name] = Child(child.spec, self.spawn(child.spec), restarts=child.restarts + 1)
                self.save_state()
            if self.kafka_process is not None and self.kafka_process.poll() is not None:
                raise StackError(
                    f"the Kafka broker exited with code {self.kafka_process.returncode}; see {self.kafka.log_file}"
                )
            time.sleep(0.5)

    def stop(self) -> None:
        for child in self.children.values():
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for child in self.children.values():
            try:
                child.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                say(f"{child.spec.name} did not stop in {STOP_GRACE:.0f} s; killing it")
                child.process.kill()
                child.process.wait()
        if self.kafka_process is not None:
            broker.stop_process(self.kafka_process)
        if not self.external_db:
            self.pg.stop()
        self.layout.state_file.unlink(missing_ok=True)

    def save_state(self) -> None:
        self.layout.write_state(
            {
                "supervisor_pid": os.getpid(),
                "home": str(self.layout.home),
                "processes": {
                    name: {
                        "pid": c.process.pid,
                        "url": HttpSettings.for_service(c.spec.service).url if c.spec.http else None,
                    }
                    for name, c in self.children.items()
                },
                "kafka": {
                    "pid": self.kafka_process.pid if self.kafka_process else None,
                    "bootstrap": self.bootstrap(),
                },
                "postgres": {
                    "data_dir": None if self.external_db else str(self.pg.data_dir),
                    "port": None if self.external_db else self.pg.port,
                    "url": redact(self.database_url()),
                },
                # What operator commands (`hubstream users`, `events tail`...) connect to.
                "env": {
                    "HUBSTREAM_DATABASE_URL": self.database_url(),
                    "HUBSTREAM_KAFKA": self.bootstrap(),
                },
            }
        )


class StackError(RuntimeError):
    pass


def _read_token(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return f"(no log at {path})"


def _ready(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/readyz", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def operator_settings() -> InfraSettings:
    """Settings for operator commands: the environment, else the stack `up` runs from this home."""
    infra = InfraSettings()
    state = Layout(home=infra.home.resolve(), settings=StackSettings()).read_state()
    if not state or not Layout(home=infra.home.resolve(), settings=StackSettings()).running():
        return infra
    overrides = {k: v for k, v in state.get("env", {}).items() if k not in os.environ}
    if not overrides:
        return infra
    return InfraSettings(**{k.removeprefix("HUBSTREAM_").lower(): v for k, v in overrides.items()})


def _token_accepted(service: str, token: str) -> bool:
    """Whether `service` knows the token yet (ingest and versioning learn it from the identity topic)."""
    header = {"X-API-KEY": token} if service == "versioning" else {"Authorization": f"Bearer {token}"}
    request = urllib.request.Request(f"{HttpSettings.for_service(service).url}/api/whoami-v2", headers=header)
    try:
        with urllib.request.urlopen(request, timeout=2):
            return True
    except urllib.error.HTTPError as exc:
        return exc.code != 401  # 404 on services without that route: the token itself was accepted
    except (urllib.error.URLError, OSError):
        return False


def up() -> int:
    layout = Layout.from_env()
    layout.lock_file.parent.mkdir(parents=True, exist_ok=True)
    lock = os.open(layout.lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(lock)
        say(f"already running from {layout.home}; `hubstream status` shows it, `hubstream down` stops it")
        return 0
    try:
        if layout.read_state() is not None:
            say("a previous `up` did not stop cleanly; stopping what it left running")
            _stop_leftovers(layout)
        return _run(layout)
    finally:
        os.close(lock)  # releases the lock: `status` and `down` now see the stack stopped


def _run(layout: Layout) -> int:
    layout.logs.mkdir(parents=True, exist_ok=True)
    stack = Stack(layout)

    def request_stop(signum: int, _frame: object) -> None:
        if not stack.stopping:
            say(f"{signal.Signals(signum).name} received: stopping")
        stack.stopping = True

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    started = time.monotonic()
    stack.save_state()  # from now on `down` finds the supervisor, even while it is starting
    try:
        for step in (stack.start_postgres, stack.start_kafka):
            step()
            stack.check_stopping()
        token = stack.prepare()
        stack.check_stopping()
        stack.start_services()
        stack.wait_ready(token)
        _banner(stack, token, time.monotonic() - started)
        stack.supervise()
        return 0
    except (StackError, postgres.PostgresError, broker.BrokerError) as exc:
        say(f"error: {exc}")
        return 1
    finally:
        say("stopping services, broker and database")
        stack.stop()
        say("stopped")
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _banner(stack: Stack, token: str, seconds: float) -> None:
    print(flush=True)
    print(f"hubstream is up ({seconds:.1f} s)", flush=True)
    for service in SERVICE_PORTS:
        print(f"  {service:<11} {HttpSettings.for_service(service).url}", flush=True)
    print(f"  kafka       {stack.bootstrap()}", flush=True)
    print(f"  postgres    {redact(stack.database_url())}", flush=True)
    print(f"  admin token {token}   (also in {stack.layout.token_file})", flush=True)
    print(f"  logs        {stack.layout.logs}/", flush=True)
    print("Ctrl-C or `hubstream down` stops everything.", flush=True)


def down(timeout: float = 60.0) -> int:
    layout = Layout.from_env()
    state = layout.read_state()
    if not layout.running():
        if state is None:
            say("nothing is running here")
            return 0
        say("the supervisor is gone; stopping what it left running")
        _stop_leftovers(layout)
        return 0
    supervisor = (state or {}).get("supervisor_pid")
    if supervisor:
        os.kill(supervisor, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while layout.running() and time.monotonic() < deadline:
        time.sleep(0.3)
    if layout.running():
        say(f"the supervisor (pid {supervisor}) did not stop within {timeout:.0f} s; see {layout.logs}")
        return 1
    say("stopped")
    return 0


def _stop_leftovers(layout: Layout) -> None:
    """Stop the processes a supervisor that died (kill -9, a crash) left behind, then forget it."""
    state = layout.read_state() or {}
    pids = [p.get("pid") for p in state.get("processes", {}).values()] + [state.get("kafka", {}).get("pid")]
    for pid in pids:
        if ours(pid):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE
    while any(ours(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.3)
    if state.get("postgres", {}).get("data_dir"):
        layout.postgres().stop()
    layout.state_file.unlink(missing_ok=True)


def status() -> int:
    layout = Layout.from_env()
    state = layout.read_state()
    if state is None or not layout.running():
        say(f"not running (state in {layout.home})")
        return 3
    rows = [("supervisor", state["supervisor_pid"], "", "")]
    for name, p in state["processes"].items():
        health = ("ready" if _ready(p["url"]) else "not ready") if p["url"] else ""
        rows.append((name, p["pid"], p["url"] or "", health if pid_alive(p["pid"]) else "exited"))
    kafka = state["kafka"]
    rows.append(
        (
            "kafka",
            kafka["pid"] or "external",
            kafka["bootstrap"],
            "running" if kafka["pid"] is None or pid_alive(kafka["pid"]) else "exited",
        )
    )
    pg = state["postgres"]
    rows.append(
        (
            "postgres",
            "",
            pg["url"],
            "running" if pg["data_dir"] is None or layout.postgres().is_running() else "stopped",
        )
    )
    print(f"{'process':<18} {'pid':>8}  {'address':<28} state")
    for name, pid, address, health in rows:
        print(f"{name:<18} {pid!s:>8}  {address:<28} {health}")
    return 0
