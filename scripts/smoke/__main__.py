"""`python -m scripts.smoke`: the operator smoke test (see the package's docstring)."""

import sys

from scripts.smoke.cli import main

sys.exit(main())
