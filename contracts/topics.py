"""The topic registry: every topic hubstream publishes to, and who may write it.

Topics are per domain stream, not per event type, so that all events about one
aggregate (a repo, a source, a dataset) stay in order on one partition.
"""

from __future__ import annotations

from dataclasses import dataclass

DLQ_SUFFIX = ".dlq"

# Kafka's defaults for what a topic does not set (deploy/broker.py keeps log.retention.hours=168).
BROKER_RETENTION_MS = 7 * 24 * 3600 * 1000
BROKER_SEGMENT_MS = 7 * 24 * 3600 * 1000


@dataclass(frozen=True)
class Topic:
    name: str
    description: str
    key: str
    """What the record key is (the aggregate id), in words."""
    producers: tuple[str, ...]
    """Services that publish here; "any" means outside systems may publish too."""
    partitions: int = 3
    config: tuple[tuple[str, str], ...] = ()
    """Kafka topic configuration set at creation (retention, compaction)."""

    @property
    def dlq(self) -> str:
        return self.name + DLQ_SUFFIX

    @property
    def redelivery_seconds(self) -> float | None:
        """How long after it was written a record can still be delivered to a consumer; None: for good.

        Kafka deletes whole segments, and a segment only once its newest record is past `retention.ms`,
        so a record may outlive its retention by up to one segment's time (`segment.ms`).
        """
        config = dict(self.config)
        if "compact" in config.get("cleanup.policy", "delete"):
            return None  # the newest record of each key stays for good
        retention = int(config.get("retention.ms", BROKER_RETENTION_MS))
        if retention < 0:
            return None
        return (retention + int(config.get("segment.ms", BROKER_SEGMENT_MS))) / 1000


CATALOG_REPOS = Topic(
    name="hubstream.catalog.repos",
    description="Lifecycle of catalog repos (models, datasets, spaces): created, updated, deleted.",
    key='repo id with its type, e.g. "datasets/owner/name"',
    producers=("catalog",),
    # Kept for good: a consumer group that starts later (a new service) rebuilds its view of the repos from here.
    config=(("retention.ms", "-1"),),
)
CATALOG_IDENTITY = Topic(
    name="hubstream.catalog.identity",
    description="Access tokens created and revoked; other services keep their own copy from it.",
    key="token id",
    producers=("catalog",),
    # Compacted by token: the newest event of each token (its revocation, if any) is kept for good, so a new
    # copy starts complete and a revoked token can never come back.
    config=(("cleanup.policy", "compact"),),
)
CATALOG_MIRROR = Topic(
    name="hubstream.catalog.mirror",
    description="Syncs of the catalog's mirrors of upstream Hubs: requested, completed, failed (with counts).",
    key="mirror name",
    producers=("catalog",),
)
INGEST_REQUESTS = Topic(
    name="hubstream.ingest.requests",
    description="Requests to index a Hub dataset. Any system may publish here.",
    key="source id",
    producers=("ingest", "any"),
)
INGEST_STATUS = Topic(
    name="hubstream.ingest.status",
    description="Progress of indexing runs: started, progress, completed, failed.",
    key="source id",
    producers=("ingest",),
)
VERSIONING_DELTAS = Topic(
    name="hubstream.versioning.deltas",
    description="Datapoint deltas (set/add/remove) requested for a versioned dataset. Any system may publish.",
    key="the dataset as the delta names it: its id (ds_...) or else its path (e.g. folder/test-questions)",
    producers=("versioning", "any"),
)
VERSIONING_VERSIONS = Topic(
    name="hubstream.versioning.versions",
    description="What became of each delta: the version it created (or resolved to), or why it was rejected.",
    key="dataset id (ds_...); a rejected delta whose dataset is unknown: the id or path it named",
    producers=("versioning",),
)

TOPICS: tuple[Topic, ...] = (
    CATALOG_REPOS,
    CATALOG_IDENTITY,
    CATALOG_MIRROR,
    INGEST_REQUESTS,
    INGEST_STATUS,
    VERSIONING_DELTAS,
    VERSIONING_VERSIONS,
)


def topic_named(name: str) -> Topic:
    """The registered topic called `name` (a `.dlq` name gives its main topic)."""
    base = name.removesuffix(DLQ_SUFFIX)
    for topic in TOPICS:
        if topic.name == base:
            return topic
    known = ", ".join(t.name for t in TOPICS)
    raise KeyError(f"unknown topic {name!r}; known topics: {known}")
