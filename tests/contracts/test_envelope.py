"""The envelope round trip, its failure modes, and strict producers against tolerant consumers."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from datetime import UTC, datetime

import orjson
import pytest
from pydantic import ValidationError

from contracts import ContractError, Event, decode, encode, event_class, wrap
from contracts.catalog import (
    RepoCreated,
    RepoDeleted,
    RepoMoved,
    RepoSettingsChanged,
    RepoUpdated,
    TokenCreated,
    TokenRevoked,
    UpdatedRef,
)
from contracts.ingest import IndexCompleted, IndexFailed, IndexProgress, IndexRequested, IndexStarted
from contracts.mirror import MirrorSyncCompleted, MirrorSyncCounts, MirrorSyncFailed, MirrorSyncRequested
from contracts.registry import EVENT_CLASSES, EVENT_TYPES
from contracts.versioning import Datapoint, DatapointsDeltaRejected, DatapointsDeltaRequested, DatasetVersionCreated

SOURCE_ID = uuid.UUID("6f1c2a8e-2d4b-4c1e-9a57-0d3b8f6e4a21")
WHEN = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
SHA256 = "0123456789abcdef" * 4

# One valid payload per registered event type (a test below insists), so every contract is round-tripped.
COUNTS = MirrorSyncCounts(created=1, updated=2, deleted=0, unchanged=5, failed=0)
SAMPLES: tuple[Event, ...] = (
    RepoCreated(repo_type="dataset", repo_id="alice/squad", private=False, author="alice"),
    RepoUpdated(
        repo_type="dataset",
        repo_id="alice/squad",
        head_sha="b" * 40,
        updated_refs=[UpdatedRef(ref="refs/heads/main", old_sha="a" * 40, new_sha="b" * 40)],
        changed_paths=["data/train.parquet"],
    ),
    RepoDeleted(repo_type="model", repo_id="alice/bert"),
    RepoMoved(repo_type="model", repo_id="acme/bert", from_repo_id="alice/bert", private=False),
    RepoSettingsChanged(repo_type="dataset", repo_id="alice/squad", private=True, gated="manual", changed=["gated"]),
    TokenCreated(user="alice", token_id="tok_1", token_sha256=SHA256, role="write", display_name="ci", created_at=WHEN),
    TokenRevoked(user="alice", token_id="tok_1", token_sha256=SHA256, revoked_at=WHEN),
    MirrorSyncRequested(mirror="hf", sync_id="s1", upstream_url="https://huggingface.co"),
    MirrorSyncCompleted(mirror="hf", sync_id="s1", counts=COUNTS),
    MirrorSyncFailed(
        mirror="hf", sync_id="s2", counts=COUNTS, error="the upstream https://huggingface.co is unreachable"
    ),
    IndexRequested(source_id=SOURCE_ID, dataset="alice/squad", requested_by="tests"),
    IndexStarted(source_id=SOURCE_ID, dataset="alice/squad"),
    IndexProgress(source_id=SOURCE_ID, row_count=100, indexed_row_count=40, chunk_count=3),
    IndexCompleted(source_id=SOURCE_ID, row_count=100, indexed_row_count=100, chunk_count=8, sampling_strategy="full"),
    IndexFailed(source_id=SOURCE_ID, dataset="alice/squad", error="no such dataset", error_code="DatasetNotFound"),
    DatapointsDeltaRequested(
        dataset_path="folder/questions",
        action="add",
        datapoints=[Datapoint(inputs={"question": "2+2?"}, target={"answer": "4"})],
        request_id="req-1",
    ),
    DatasetVersionCreated(
        dataset_path="folder/questions",
        dataset_id="ds_1",
        version_id="dsv_1",
        base_version_id=None,
        datapoint_count=1,
        added=1,
        removed=0,
        commit_message=None,
        request_id="req-1",
    ),
    DatapointsDeltaRejected(
        dataset_id="ds_1", request_id="req-2", reason_code="VersionNotFound", reason="no version dsv_9"
    ),
)

EVENT_TYPE = re.compile(r"^hubstream\.(?P<domain>[a-z]+)(\.[a-z][a-z0-9_]*)+\.v[1-9][0-9]*$")


def test_every_event_type_has_a_sample() -> None:
    assert sorted(type(sample).__name__ for sample in SAMPLES) == sorted(cls.__name__ for cls in EVENT_CLASSES)


@pytest.mark.parametrize("event", SAMPLES, ids=lambda event: event.event_type)
def test_wrap_encode_decode_round_trip(event: Event) -> None:
    envelope = wrap(event, source="/hubstream/tests", event_id="evt-1", time=WHEN)
    raw = encode(envelope)

    # Structured mode: the envelope itself is the value, readable without headers.
    document = orjson.loads(raw)
    assert document["specversion"] == "1.0"
    assert document["type"] == event.event_type

    decoded = decode(raw)
    assert decoded.id == "evt-1"
    assert decoded.source == "/hubstream/tests"
    assert decoded.type == event.event_type
    assert decoded.time == WHEN
    assert decoded.partitionkey == event.key()
    assert decoded.subject == event.subject()
    assert decoded.data == event.model_dump(mode="json")

    model = event_class(decoded.type)
    assert model is type(event)
    assert model.parse(decoded.data) == event


def test_wrap_gives_each_event_its_own_id() -> None:
    event = SAMPLES[0]
    assert wrap(event, source="s").id != wrap(event, source="s").id


def test_extension_attributes_survive_decoding() -> None:
    raw = encode(wrap(SAMPLES[0], source="s"))
    with_extension = orjson.loads(raw) | {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    decoded = decode(orjson.dumps(with_extension))
    assert decoded.model_extra == {"traceparent": with_extension["traceparent"]}


def test_integers_past_64_bits_reach_the_payloads_contract_unchanged() -> None:
    # Another system's producer may send one; read as a float it would be changed without a word.
    raw = (
        b'{"specversion": "1.0", "id": "1", "source": "s", "type": "t", '
        b'"data": {"n": 1180591620717411303425, "m": -18446744073709551617}}'
    )
    assert decode(raw).data == {"n": 2**70 + 1, "m": -(2**64) - 1}


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b"not json at all", "not valid JSON"),
        (b'{"specversion": "1.0", "id": "1", "source": "s", "type": "t", "data": {"x": NaN}}', "not valid JSON"),
        (b"[1, 2, 3]", "JSON list"),
        (b'{"id": "1", "source": "s", "type": "t"}', "not a CloudEvents 1.0 envelope"),
        (b'{"specversion": "0.3", "id": "1", "source": "s", "type": "t"}', "not a CloudEvents 1.0 envelope"),
        (None, "tombstone"),
    ],
    ids=["not-json", "nan", "json-array", "no-specversion", "wrong-specversion", "none"],
)
def test_decode_refuses_what_is_not_an_envelope(raw: bytes | None, says: str) -> None:
    with pytest.raises(ContractError, match=says):
        decode(raw)


def test_producers_refuse_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="extra_forbidden"):
        RepoDeleted(repo_type="model", repo_id="alice/bert", surprise=True)  # type: ignore[call-arg]


def test_producers_do_not_coerce_types() -> None:
    with pytest.raises(ValidationError, match="row_count"):
        IndexProgress(source_id=SOURCE_ID, row_count="100", indexed_row_count=40, chunk_count=3)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="source_id"):
        IndexStarted(source_id=str(SOURCE_ID), dataset="alice/squad")  # type: ignore[arg-type]


def test_producers_check_field_constraints() -> None:
    with pytest.raises(ValidationError, match="token_sha256"):
        TokenRevoked(user="alice", token_id="tok_1", token_sha256="not-hex", revoked_at=WHEN)


def test_consumers_ignore_unknown_fields_and_read_json_types() -> None:
    data = {
        "source_id": str(SOURCE_ID),
        "row_count": 100,
        "indexed_row_count": 40,
        "chunk_count": 3,
        "added_in_a_later_release": "ignored",
    }
    parsed = IndexProgress.parse(data)
    assert parsed == IndexProgress(source_id=SOURCE_ID, row_count=100, indexed_row_count=40, chunk_count=3)
    assert "added_in_a_later_release" not in parsed.model_dump()


@pytest.mark.parametrize(
    "data",
    [
        {"source_id": "not-a-uuid", "row_count": 1, "indexed_row_count": 1, "chunk_count": 1},
        {"source_id": str(SOURCE_ID), "row_count": -1, "indexed_row_count": 1, "chunk_count": 1},
        {"source_id": str(SOURCE_ID)},
        [1, 2, 3],
        None,
    ],
    ids=["bad-uuid", "negative-count", "missing-fields", "array", "none"],
)
def test_consumers_raise_contract_error_for_wrong_payloads(data: object) -> None:
    with pytest.raises(ContractError, match=re.escape(IndexProgress.event_type)):
        IndexProgress.parse(data)


def test_event_types_are_named_by_the_convention_and_unique() -> None:
    types = [cls.event_type for cls in EVENT_CLASSES]
    duplicates = [name for name, count in Counter(types).items() if count > 1]
    assert duplicates == []
    assert set(EVENT_TYPES) == set(types)
    for cls in EVENT_CLASSES:
        match = EVENT_TYPE.fullmatch(cls.event_type)
        assert match, f"{cls.__name__}: {cls.event_type!r} is not hubstream.<domain>.<...>.v<N>"
        # The domain in the type is the domain of the topic it travels on.
        assert match["domain"] == cls.topic.name.split(".")[1], cls.event_type
