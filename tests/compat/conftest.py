"""Real clients against a running catalog (tests/catalog/conftest.py) or, for cross-service tests, the whole stack."""

import os
from pathlib import Path

import pytest

from deploy import legacy_clients

# Recent huggingface_hub releases upload through Xet whenever hf_xet is installed, and read this once,
# when first imported: set it before any test module imports the client. hubstream speaks plain HTTP.
os.environ["HF_HUB_DISABLE_XET"] = "1"
# 2.x fetches an "agent harness" registry from the default endpoint on first use: nothing may leave the machine.
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"

from tests.catalog.conftest import Catalog, catalog, hubstream_home
from tests.e2e.conftest import stack

# The client's own HTTP library warns about how the client calls it (an LFS PUT of raw bytes); not ours to fix.
CLIENT_WARNINGS = pytest.mark.filterwarnings("ignore:Use 'content=<...>' to upload raw bytes:DeprecationWarning")

__all__ = ["CLIENT_WARNINGS", "Catalog", "catalog", "hubstream_home", "stack"]


@pytest.fixture(scope="session")
def legacy_hub() -> Path:
    """The folder of the 0.2x `huggingface_hub` (tests/compat/legacy.py runs scripts with it first on the path)."""
    return legacy_clients.install(legacy_clients.HUGGINGFACE_HUB)
