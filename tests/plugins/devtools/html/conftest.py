"""The report tests' Chromium (tests/reports/conftest.py), for the bench and chaos pages."""

from __future__ import annotations

from ....reports.conftest import report_browser

__all__ = ["report_browser"]
