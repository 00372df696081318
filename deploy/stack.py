"""`hubstream up / down / status`: the whole stack on one machine, without Docker.

`up` is a foreground supervisor. It starts a private PostgreSQL cluster and a
KRaft broker under `.hubstream/` as children of its own, creates the topics the
contracts declare, migrates every service's schema, makes sure the `admin`
user and token exist, then starts each service process (API, outbox relay,
ingest worker), waits until every `/readyz` answers and prints the URLs and
the token. It restarts any of its processes that exits, the broker and the
database included (their data stays on disk), after a backoff and within a
restart budget per time window (deploy/supervision.py); past the budget it
stops the stack. It stops everything, in reverse order (services, then the
broker, then the database) on Ctrl-C or `hubstream down`. It holds a lock on
`.hubstream/run/up.lock` while it runs, and `.hubstream/run/stack.json` says
what runs where, how often each process was restarted and how it last exited,
for `status` and `down`.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from deploy import broker, postgres
from deploy.layout import Layout, ours, pid_alive, write_private
from deploy.logs import tail
from deploy.ports import PortInUse, start_retrying_bind
from deploy.supervision import RestartBudget, describe_exit
from services.operator import ensure_admin, ensure_service_accounts, migrate_all
from services.runtime.db import redact
from services.runtime.settings import SERVICE_PORTS, HttpSettings, InfraSettings

DATABASE = "hubstream"
READY_TIMEOUT = 90.0
STOP_GRACE = 15.0


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    args: tuple[str, ...]
    service: str
    http: bool


PROCESSES: tuple[ProcessSpec, ...] = (
    ProcessSpec("catalog-api", ("serve", "catalog"), "catalog", True),
    ProcessSpec("catalog-relay", ("relay", "catalog"), "catalog", False),
    ProcessSpec("catalog-worker", ("worker", "catalog"), "catalog", False),
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
class Supervised:
    """One process `up` keeps running: how to start it, and what happened to it so far."""

    name: str
    launch: Callable[[], subprocess.Popen[bytes]]
    """Start the process; for the broker and the database, also wait until they answer."""
    log: Path
    budget: RestartBudget
    infra: bool = False
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    last_exit: int | None = None
    last_exit_reason: str | None = None
    last_exit_at: str | None = None
    restart_at: float | None = field(default=None)
    """When a restart is due (monotonic clock), while the process is down."""

    def start(self) -> None:
        self.process = self.launch()
        self.restart_at = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def record(self) -> dict:
        return {
            "pid": self.process.pid if self.process is not None else None,
            "restarts": self.restarts,
            "last_exit": self.last_exit,
            "last_exit_reason": self.last_exit_reason,
            "last_exit_at": self.last_exit_at,
        }


class Stack:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.env = dict(os.environ)
        self.external_db = "HUBSTREAM_DATABASE_URL" in os.environ
        self.external_kafka = "HUBSTREAM_KAFKA" in os.environ
        self.pg = layout.postgres()
        self.kafka = layout.kafka()
        self.policy = layout.settings.restart_policy()
        # In start order: the database, the broker, then the services. Stopped in reverse.
        self.units: dict[str, Supervised] = {}
        self.stopping = False

    def supervised(self, name: str, launch: Callable[[], subprocess.Popen[bytes]], log: Path, infra: bool) -> None:
        self.units[name] = Supervised(name, launch, log, RestartBudget(self.policy), infra=infra)

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
        if self.pg.is_running():
            # Left by an earlier `up` (or started by hand): run it as our child, so that we see it exit.
            say(f"postgres: a server already runs on {self.pg.data_dir}; restarting it under the supervisor")
            self.pg.stop()
        self.supervised("postgres", self.launch_postgres, self.pg.log_file, infra=True)
        self.units["postgres"].start()
        self.pg.create_database(DATABASE)
        say(f"postgres: ready on 127.0.0.1:{self.pg.port} ({time.monotonic() - started:.1f} s)")

    def launch_postgres(self) -> subprocess.Popen[bytes]:
        return self.launch(
            "postgres",
            self.pg.spawn,
            self.pg.wait_ready,
            postgres.stop_process,
            postgres.PostgresError,
            logs=(self.pg.log_file,),
            ports={self.pg.port: "HUBSTREAM_PG_PORT"},
        )

    def launch(
        self,
        server: str,
        spawn: Callable[[], subprocess.Popen[bytes]],
        wait_ready: Callable[..., None],
        stop: Callable[[subprocess.Popen[bytes]], None],
        failure: type[Exception],
        *,
        logs: tuple[Path, ...],
        ports: dict[int, str],
    ) -> subprocess.Popen[bytes]:
        """Start a server and wait until it answers; again, briefly, while its port is in use."""

        def attempt() -> subprocess.Popen[bytes]:
            process = spawn()
            try:
                wait_ready(process, should_stop=lambda: self.stopping)
            except failure:
                stop(process)
                raise
            return process

        return start_retrying_bind(
            attempt,
            failure=failure,
            server=server,
            logs=logs,
            ports=ports,
            seconds=self.layout.settings.bind_retry,
            say=say,
        )

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
        self.supervised("kafka", self.launch_kafka, self.kafka.log_file, infra=True)
        self.units["kafka"].start()
        say(f"kafka: ready on {self.kafka.bootstrap} ({time.monotonic() - started:.1f} s)")

    def launch_kafka(self) -> subprocess.Popen[bytes]:
        stdout = self.layout.logs / "kafka.log"
        settings = self.layout.settings
        return self.launch(
            "kafka",
            lambda: self.kafka.start(stdout),
            self.kafka.wait_ready,
            broker.stop_process,
            broker.BrokerError,
            logs=(self.kafka.log_file, stdout),
            ports={
                settings.kafka_port: "HUBSTREAM_KAFKA_PORT",
                settings.kafka_controller_port: "HUBSTREAM_KAFKA_CONTROLLER_PORT",
            },
        )

    def prepare(self) -> str:
        """Topics, schemas and the admin token; returns the token."""
        self.env.update(
            HUBSTREAM_DATABASE_URL=self.database_url(),
            HUBSTREAM_KAFKA=self.bootstrap(),
            HUBSTREAM_HOME=str(self.layout.home),
            **{f"HUBSTREAM_{s.upper()}_URL": HttpSettings.for_service(s).url for s in SERVICE_PORTS},
        )
        # The in-process steps use the same database and broker as the children, without changing our environment.
        infra = InfraSettings(database_url=self.database_url(), kafka=self.bootstrap(), home=self.layout.home)
        started = time.monotonic()
        applied = asyncio.run(migrate_all(infra))
        say(f"schemas and topics: ready ({applied} migration(s) applied, {time.monotonic() - started:.1f} s)")
        given = self.layout.settings.admin_token
        token = given.get_secret_value() if given is not None else _read_token(self.layout.token_file)
        token = asyncio.run(ensure_admin(infra, token))
        write_private(self.layout.token_file, token + "\n")
        # Before the workers start: ingest reads private datasets with its own token (HUBSTREAM_HOME/service-tokens).
        asyncio.run(ensure_service_accounts(infra))
        return token

    # -- service processes ----------------------------------------------------------------------------

    def instance(self, spec: ProcessSpec) -> str:
        """The process's name in its consumer groups, the same at each restart: it takes its partitions back at once.

        Unique among stacks that share a broker: the host and the state directory are part of it.
        """
        home = hashlib.sha256(str(self.layout.home.resolve()).encode()).hexdigest()[:12]
        return f"{spec.name}.{socket.gethostname()}.{home}"

    def spawn(self, spec: ProcessSpec) -> subprocess.Popen[bytes]:
        log_path = self.layout.logs / f"{spec.name}.log"
        with log_path.open("ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "services.cli", *spec.args],
                env={**self.env, "HUBSTREAM_INSTANCE": self.instance(spec)},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches the supervisor, which stops children in order
            )

    def start_services(self) -> None:
        for spec in PROCESSES:
            self.supervised(spec.name, lambda spec=spec: self.spawn(spec), self.layout.logs / f"{spec.name}.log", False)
            self.units[spec.name].start()
        self.save_state()

    def services(self) -> list[Supervised]:
        return [unit for unit in self.units.values() if not unit.infra]

    def wait_ready(self, token: str) -> None:
        """Until every API is ready and the admin token has reached the services that keep a copy."""
        deadline = time.monotonic() + READY_TIMEOUT
        pending = {spec.service for spec in PROCESSES if spec.http}
        while pending:
            for unit in self.units.values():
                if unit.process is not None and unit.process.poll() is not None:
                    raise StackError(
                        f"{unit.name} {describe_exit(unit.process.returncode)} while starting:\n" + tail(unit.log)
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
        """Restart what exits (the database and the broker first), within each process's restart budget."""
        while not self.stopping:
            for unit in self.units.values():
                if self.stopping:
                    break
                if unit.restart_at is None:
                    if unit.process is not None and (code := unit.process.poll()) is not None:
                        self.exited(unit, describe_exit(code), code)
                elif time.monotonic() >= unit.restart_at and (unit.infra or self.infra_running()):
                    self.restart(unit)
            time.sleep(0.3)

    def infra_running(self) -> bool:
        return all(unit.running for unit in self.units.values() if unit.infra)

    def exited(self, unit: Supervised, reason: str, code: int | None) -> None:
        """Record why `unit` is down and schedule its restart, or stop the stack when its budget is spent."""
        unit.last_exit, unit.last_exit_reason = code, reason
        unit.last_exit_at = datetime.now(UTC).isoformat(timespec="seconds")
        delay = unit.budget.spend()
        self.save_state()
        if delay is None:
            raise StackError(
                f"{unit.name} {unit.last_exit_reason} after {unit.budget.recent} restart(s) within "
                f"{self.policy.window_text}: its restart budget ({self.policy.describe()}; HUBSTREAM_RESTART_LIMIT, "
                f"HUBSTREAM_RESTART_WINDOW) is spent, so the stack stops. See {unit.log}"
            )
        unit.restart_at = time.monotonic() + delay
        say(
            f"{unit.name} {unit.last_exit_reason}; restarting it in {delay:g} s "
            f"(restart {unit.budget.recent} of the {self.policy.limit} allowed in {self.policy.window_text}; "
            f"see {unit.log})"
        )

    def restart(self, unit: Supervised) -> None:
        try:
            unit.start()
        except (postgres.PostgresError, broker.BrokerError, PortInUse) as exc:
            say(f"{unit.name} did not come back: {exc}")
            unit.restarts += 1
            self.exited(unit, "did not start again", None)  # counts against its budget like any exit
            return
        unit.restarts += 1
        self.save_state()
        say(f"{unit.name} restarted (pid {unit.process.pid if unit.process else '?'})")

    def stop(self) -> None:
        services = [u for u in self.services() if u.running]
        for unit in services:
            assert unit.process is not None
            unit.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for unit in services:
            assert unit.process is not None
            try:
                unit.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                say(f"{unit.name} did not stop in {STOP_GRACE:.0f} s; killing it")
                unit.process.kill()
                unit.process.wait()
        if (kafka := self.units.get("kafka")) and kafka.process is not None:
            broker.stop_process(kafka.process)
        if (pg := self.units.get("postgres")) and pg.process is not None:
            postgres.stop_process(pg.process)
        if not self.external_db:
            self.pg.stop()  # a server that no child of ours runs (left while starting)
        self.layout.state_file.unlink(missing_ok=True)

    def save_state(self) -> None:
        none = {"pid": None, "restarts": 0, "last_exit": None, "last_exit_reason": None, "last_exit_at": None}
        self.layout.write_state(
            {
                "supervisor_pid": os.getpid(),
                "home": str(self.layout.home),
                "restart_policy": self.policy.describe(),
                "processes": {
                    unit.name: {
                        **unit.record(),
                        "url": HttpSettings.for_service(spec.service).url if spec.http else None,
                    }
                    for unit in self.services()
                    for spec in PROCESSES
                    if spec.name == unit.name
                },
                "kafka": {
                    **(self.units["kafka"].record() if "kafka" in self.units else none),
                    "bootstrap": self.bootstrap(),
                },
                "postgres": {
                    **(self.units["postgres"].record() if "postgres" in self.units else none),
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


def _ready(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/readyz", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


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
    except (StackError, PortInUse, postgres.PostgresError, broker.BrokerError) as exc:
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
    rows: list[tuple[str, int | None, str, str, dict]] = [("supervisor", state["supervisor_pid"], "", "running", {})]
    for name, p in state["processes"].items():
        health = ("ready" if _ready(p["url"]) else "not ready") if p["url"] else "running"
        rows.append((name, p["pid"], p["url"] or "", health if pid_alive(p["pid"]) else "exited", p))
    kafka = state["kafka"]
    external = kafka["pid"] is None and not kafka.get("restarts")
    kafka_state = "external" if external else ("running" if pid_alive(kafka["pid"]) else "exited")
    rows.append(("kafka", kafka["pid"], kafka["bootstrap"], kafka_state, kafka))
    pg = state["postgres"]
    if pg["data_dir"] is None:
        pg_state = "external"
    else:
        pg_state = "running" if pid_alive(pg.get("pid")) and layout.postgres().is_running() else "exited"
    rows.append(("postgres", pg.get("pid"), pg["url"], pg_state, pg))
    print(f"{'process':<18} {'pid':>8}  {'address':<42} {'state':<10} {'restarts':>8}  last exit")
    for name, pid, address, health, record in rows:
        restarts = record.get("restarts", 0)
        print(f"{name:<18} {pid or '-'!s:>8}  {address or '-':<42} {health:<10} {restarts!s:>8}  {_last_exit(record)}")
    if policy := state.get("restart_policy"):
        print(f"restart budget: {policy} per process")
    return 0


def _last_exit(record: dict) -> str:
    if record.get("last_exit_reason") is None:
        return "-"
    return f"{record['last_exit_reason']} at {record['last_exit_at']}"
