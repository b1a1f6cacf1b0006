"""Entry point of `python -m turnout_e2b.server`; see cli.py."""

from turnout_e2b.server.cli import main

raise SystemExit(main())
