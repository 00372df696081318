"""Real clients run against the same in-process stack as the end-to-end tests, or the catalog alone."""

import os

from tests.catalog.conftest import catalog
from tests.e2e.conftest import stack

# Recent huggingface_hub releases upload through Xet whenever hf_xet is installed, and read this once,
# when first imported: set it before any test module imports the client. hubstream speaks plain HTTP.
os.environ["HF_HUB_DISABLE_XET"] = "1"

__all__ = ["catalog", "stack"]
