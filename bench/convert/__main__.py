"""`python -m bench.convert`: see bench/convert/__init__.py for what it measures."""

import sys

from bench.convert import main

sys.exit(main())
