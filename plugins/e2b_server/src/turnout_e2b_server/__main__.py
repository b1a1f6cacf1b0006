"""Entry point of `python -m turnout_e2b_server`; see cli.py."""

from turnout_e2b_server.cli import main

raise SystemExit(main())
