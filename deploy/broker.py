"""A single-node Apache Kafka broker in KRaft mode, run from its Maven Central jars.

`deploy/kafka/pom.xml` names the broker; `mvn dependency:copy-dependencies`
puts its jars in `deploy/.cache/kafka-libs` once per checkout. The broker is
one combined broker+controller with a static quorum, listening on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

DEPLOY_DIR = Path(__file__).resolve().parent
POM = DEPLOY_DIR / "kafka" / "pom.xml"
DEFAULT_LIBS = DEPLOY_DIR / ".cache" / "kafka-libs"

JVM_OPTIONS = [
    "-Xms256m",
    "-Xmx1g",
    # Serial GC and C1 only: fewer threads and a faster start on a 2-core machine.
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
]

SERVER_PROPERTIES = """\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller_port}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={data_dir}
# One node: every internal topic has one replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Form consumer groups at once, and keep internal topics small.
group.initial.rebalance.delay.ms=0
# A restarted node (a crash, a SIGKILL) re-registers with its own controller, which refuses it until the
# session of its previous life expires: 9 s by default, most of a restart's time. Heartbeats are local.
broker.session.timeout.ms=3000
broker.heartbeat.interval.ms=500
offsets.topic.num.partitions=3
transaction.state.log.num.partitions=1
# Topics are declared in contracts/ and created by `hubstream up` / `migrate`.
auto.create.topics.enable=false
num.partitions=3
num.network.threads=2
num.io.threads=4
log.retention.hours=168
"""


class BrokerError(RuntimeError):
    pass


def libs_dir() -> Path:
    return Path(os.environ.get("HUBSTREAM_KAFKA_LIBS", DEFAULT_LIBS))


def has_jars(libs: Path) -> bool:
    return any(libs.glob("kafka_2.13-*.jar"))


def fetch_jars(libs: Path | None = None) -> Path:
    """Copy the broker's jars from Maven Central (once); return the folder."""
    libs = libs or libs_dir()
    if has_jars(libs):
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerError(
            "Maven (mvn) is needed once to fetch the Kafka broker's jars; install it (apt-get install maven)"
        )
    libs.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            mvn,
            "-B",
            "-q",
            "-f",
            str(POM),
            # Pinned plugin version: no plugin-prefix lookups, same result on every machine.
            "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={libs}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not has_jars(libs):
        raise BrokerError(f"fetching the Kafka jars with Maven failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return libs


def new_cluster_id() -> str:
    """The 22-character URL-safe base64 UUID that `kafka-storage random-uuid` prints."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


@dataclass
class LocalKafka:
    home: Path  # holds server.properties, data/ and server.log
    port: int
    controller_port: int

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def log_file(self) -> Path:
        return self.home / "server.log"

    def _java(self, main: str, *args: str) -> list[str]:
        java = shutil.which("java")
        if java is None:
            raise BrokerError("Java 17 or newer is needed to run the Kafka broker; install openjdk-17-jre-headless")
        return [
            java,
            *JVM_OPTIONS,
            f"-Dorg.slf4j.simpleLogger.logFile={self.log_file}",
            "-Dorg.slf4j.simpleLogger.showDateTime=true",
            "-cp",
            f"{fetch_jars()}/*",
            main,
            *args,
        ]

    def configure(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        props = self.home / "server.properties"
        props.write_text(
            SERVER_PROPERTIES.format(port=self.port, controller_port=self.controller_port, data_dir=self.data_dir)
        )
        return props

    def format(self) -> bool:
        """Format the KRaft metadata log once; True if it was formatted now."""
        props = self.configure()
        if (self.data_dir / "meta.properties").exists():
            return False
        result = subprocess.run(
            self._java(
                "kafka.tools.StorageTool",
                "format",
                # "=": a generated id may start with "-", which the tool would read as an option.
                f"--cluster-id={new_cluster_id()}",
                "-c",
                str(props),
                "--ignore-formatted",
            ),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise BrokerError(f"formatting the Kafka storage failed: {result.stderr[-2000:] or result.stdout[-2000:]}")
        return True

    def start(self, stdout_path: Path) -> subprocess.Popen[bytes]:
        """Start the broker process (in its own session, so Ctrl-C reaches it only through us)."""
        self.format()
        stdout_path.parent.mkdir(parents=True, exist_ok=True)
        with stdout_path.open("ab") as out:
            return subprocess.Popen(
                self._java("kafka.Kafka", str(self.home / "server.properties")),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(
        self, process: subprocess.Popen[bytes], timeout: float = 90.0, should_stop: Callable[[], bool] = lambda: False
    ) -> None:
        # aiokafka logs every refused connection while the broker boots; those are expected here.
        aiokafka_log = logging.getLogger("aiokafka")
        level = aiokafka_log.level
        aiokafka_log.setLevel(logging.CRITICAL)
        try:
            self._wait_ready(process, timeout, should_stop)
        finally:
            aiokafka_log.setLevel(level)

    def _wait_ready(self, process: subprocess.Popen[bytes], timeout: float, should_stop: Callable[[], bool]) -> None:
        from services.runtime.kafka import check_available

        deadline = time.monotonic() + timeout
        while True:
            if should_stop():
                raise BrokerError("interrupted while the broker was starting")
            if process.poll() is not None:
                raise BrokerError(f"the Kafka broker exited with code {process.returncode}; see {self.log_file}")
            try:
                # A thread of its own: callers may be inside an event loop (an async test fixture).
                with ThreadPoolExecutor(1) as pool:
                    pool.submit(asyncio.run, check_available(self.bootstrap)).result()
                return
            except Exception as exc:
                if time.monotonic() > deadline:
                    raise BrokerError(
                        f"the Kafka broker did not answer within {timeout:.0f} s ({exc}); see {self.log_file}"
                    ) from exc
                time.sleep(0.5)


def stop_process(process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """SIGTERM (a broker then shuts down cleanly), SIGKILL if it does not stop in time."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
