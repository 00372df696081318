"""`python -m bench.events`: see bench/events/__init__.py for what it measures."""

import sys

from bench.events.cli import main

sys.exit(main())
