"""The three services by name, for the command line and the stack."""

from __future__ import annotations

from services.runtime.service import ServiceDefinition

SERVICE_NAMES = ("catalog", "ingest", "versioning")


def definition(name: str) -> ServiceDefinition:
    # Imported on demand: a relay process need not import the other services.
    if name == "catalog":
        from services.catalog.app import DEFINITION
    elif name == "ingest":
        from services.ingest.app import DEFINITION
    elif name == "versioning":
        from services.versioning.app import DEFINITION
    else:
        raise KeyError(f"unknown service {name!r}; services are {', '.join(SERVICE_NAMES)}")
    return DEFINITION
