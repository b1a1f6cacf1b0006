"""`turnout bench` from a checkout: `python benchmarks/run_bench.py [--quick] [--json]`.

The measuring code is `turnout_devtools.bench` (the turnout-devtools distribution, which
adds `turnout bench` to the installed CLI); this script only parses the same arguments.
See docs/performance.md.
"""

from __future__ import annotations

import argparse
import sys

from turnout_devtools.cli import bench


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="run_bench.py")
    bench.register(parser.add_subparsers(dest="command", required=True))
    arguments = parser.parse_args(["bench", *(sys.argv[1:] if argv is None else argv)])
    status: int = arguments.handler(arguments)
    return status


if __name__ == "__main__":
    sys.exit(main())
