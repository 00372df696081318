"""Event-path benchmark: raw aiokafka against hubstream's outbox -> relay -> consumer, on one broker.

    .venv/bin/python -m bench.events --events 5000      (or: hubstream bench events --events 5000)

Five phases, in one run against the same broker and PostgreSQL:

* raw, saturation: an idempotent aiokafka producer sends `--events` messages the size of our encoded
  CloudEvents envelope as fast as it can; a group consumer reads them (raw.py).
* hubstream, drain: writers commit `--events` events to the outbox while the relay and the consumer
  are stopped; then the relay and the consumer start, and the clock runs from the relay's start to the
  last event handled. This is the event path alone (outbox -> relay -> Kafka -> consumer with inbox),
  the one the goal "throughput >= 50 % of raw" is about (outbox.py).
* hubstream, saturation+writers: `--writers` writers commit the same events while the relay and the
  consumer run, so the figures include the writers' own PostgreSQL commits (outbox.py).
* both paths again at a moderate fixed rate (`--rate` events/s for `--seconds`): at saturation latency
  is mostly queueing, at a moderate rate it is the path's own cost (goal: hubstream p99 < 100 ms).

Each phase starts with a few warm-up events that are not measured (they absorb group joins, metadata
fetches and the relay's start-up). Everything runs in this one Python process, so the raw path and
hubstream share the same CPU budget; in production the writer, the relay and the consumer are three
processes. The diagnostic notes under the table (timed.py) show where hubstream's time goes.

The servers are the ones given with `--kafka` / `--database-url` (on this machine only) or throw-away
ones on 127.0.0.1; the run creates its own database and topics and removes them, and every phase has
a hard timeout (infra.py, cli.py). Figures are printed, never enforced: the exit code is 1 only when
a phase did not complete (report.py).

Modules: cli (arguments, phase order, entry points), infra (servers, database, topics), plan (what a
phase sends), tracking (send/arrival times), raw and outbox (the two paths), timed (instrumented relay
and consumer), tasks (background loops), report (results and the printed table).
"""

from bench.events.cli import amain, main, parse_args, run
from bench.events.infra import is_local_database, is_local_kafka
from bench.events.report import PhaseResult, Report

__all__ = ["PhaseResult", "Report", "amain", "is_local_database", "is_local_kafka", "main", "parse_args", "run"]
