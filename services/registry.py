"""The three services by name, for the command line and the stack."""

from __future__ import annotations

from typing import Any

from services.runtime.keys import API
from services.runtime.service import ServiceDefinition, build_app
from services.runtime.settings import HttpSettings, InfraSettings, ServiceConfig

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


def openapi_document(name: str) -> dict[str, Any]:
    """The OpenAPI document service `name` serves at /openapi.json, without starting it.

    The app is only built (routes added, nothing connected), with default settings:
    the document holds no address, so it is the same wherever the service runs.
    """
    config = ServiceConfig(service=name, infra=InfraSettings(), http=HttpSettings())
    return build_app(definition(name), config)[API].document()
