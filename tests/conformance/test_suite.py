"""The whole conformance suite (every case, the properties) through the pytest plugin."""

from turnout.conformance.suite import *  # noqa: F403
