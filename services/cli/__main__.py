"""`python -m services.cli ...`: how the stack supervisor starts each service process."""

import sys

from services.cli import main

sys.exit(main())
