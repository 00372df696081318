"""`python -m bench.catalog`: see bench/catalog/__init__.py for what it measures."""

import sys

from bench.catalog.cli import main

sys.exit(main())
