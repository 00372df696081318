"""`python -m bench.mirror`: see bench/mirror/__init__.py for what it measures."""

import sys

from bench.mirror.cli import main

sys.exit(main())
