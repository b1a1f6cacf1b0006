"""`python -m turnout.cli`: the `turnout` command, for environments without its script."""

import sys

from turnout.cli import main

sys.exit(main())
