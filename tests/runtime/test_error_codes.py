"""`X-Error-Code` is a public interface: every code raised is in its service's closed list, and documented."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import pytest

from services.catalog.errors import CatalogErrorCode
from services.ingest.errors import IngestErrorCode
from services.runtime.errors import RuntimeErrorCode
from services.versioning.errors import VersioningErrorCode

REPO = Path(__file__).resolve().parents[2]
CLOSED_LISTS = {
    "runtime": set(get_args(RuntimeErrorCode)),
    "catalog": set(get_args(CatalogErrorCode)),
    "ingest": set(get_args(IngestErrorCode)),
    "versioning": set(get_args(VersioningErrorCode)),
}
# ApiError(413, "PayloadTooLarge", ...), catalog_error(404, "RepoNotFound", ...), VersioningError(404, ...),
# over several lines too.
RAISED = re.compile(r"\b(?:ApiError|catalog_error|VersioningError)\(\s*\d{3},\s*\"([A-Za-z]+)\"")


@pytest.mark.parametrize("package", sorted(CLOSED_LISTS))
def test_every_code_a_service_raises_is_in_its_closed_list(package: str) -> None:
    raised = {code for path in (REPO / "services" / package).rglob("*.py") for code in RAISED.findall(path.read_text())}
    if package in ("runtime", "catalog", "ingest", "versioning"):
        assert raised, "the scan found no codes: the pattern no longer matches how errors are raised"
    assert raised <= CLOSED_LISTS[package], f"codes not in the closed list: {sorted(raised - CLOSED_LISTS[package])}"


def test_every_code_in_the_closed_lists_is_documented_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text()
    http = readme[readme.index("## HTTP") : readme.index("## Layout")]
    codes = set().union(*CLOSED_LISTS.values())
    assert [code for code in sorted(codes) if f"`{code}`" not in http] == []
