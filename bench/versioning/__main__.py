"""`python -m bench.versioning`: see bench/versioning/__init__.py for what it measures."""

import sys

from bench.versioning import main

sys.exit(main())
