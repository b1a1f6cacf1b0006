"""Argument types and options shared by the subcommands, so that every command says the
same thing about the same mistake and spells the same option the same way."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from turnout.flags import FLAGS_FILE_VARIABLE

__all__ = ["add_flags_argument", "positive_seconds", "whole_number"]


def whole_number(minimum: int) -> Callable[[str], int]:
    """An argparse `type` for an integer of at least `minimum`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {minimum} or more: {text!r}")
        return value

    return parse


def positive_seconds(text: str) -> float:
    """An argparse `type` for a duration in seconds, more than 0 (fractions allowed)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be more than 0 seconds")
    return value


def add_flags_argument(parser: argparse.ArgumentParser) -> None:
    """`--flags FILE`, the one spelling of "which feature flag file" on every command that
    reads one (stored as `arguments.flags`, None when not given)."""
    parser.add_argument(
        "--flags",
        type=Path,
        metavar="FILE",
        help=f"feature flag file (default: ${FLAGS_FILE_VARIABLE}, else ./feature_flags.toml)",
    )
