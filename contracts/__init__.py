"""hubstream's public event contracts.

Every event travels on Kafka as a CloudEvents 1.0 envelope in structured JSON
mode (the whole envelope is the message value), keyed by the id of the
aggregate it is about. The payload models live in one module per domain;
`registry` lists them all and `topics` lists every topic with its dead-letter
twin. `hubstream contracts export` writes JSON Schema and AsyncAPI from here.
"""

from contracts.base import ContractError, Event
from contracts.envelope import CloudEvent, decode, encode, wrap
from contracts.registry import EVENT_TYPES, event_class
from contracts.topics import TOPICS, Topic

__all__ = [
    "EVENT_TYPES",
    "TOPICS",
    "CloudEvent",
    "ContractError",
    "Event",
    "Topic",
    "decode",
    "encode",
    "event_class",
    "wrap",
]
