"""The divergence ledger file: schema, stale entries, lookup, and the shipped ledger."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from turnout.conformance.cases import CaseFileError, default_ledger_path, load_cases
from turnout.conformance.ledger import Ledger

ENTRY = """
[[divergence]]
case = "{case}"
backend = "e2b"
reason = "the cloud kernel prints a banner on stderr"
decided = {decided}
"""


def ledger_file(tmp_path: Path, *entries: str) -> Path:
    path = tmp_path / "divergences.toml"
    path.write_text("".join(entries), encoding="utf-8")
    return path


class TestLedger:
    def test_an_entry_is_found_by_case_and_backend(self, tmp_path: Path) -> None:
        """Lookup returns the entry for its (case, backend) pair and nothing for others."""
        ledger = Ledger.load(ledger_file(tmp_path, ENTRY.format(case="a.b", decided="2025-01-31")))
        entry = ledger.entry("a.b", "e2b")
        assert entry is not None
        assert entry.decided == datetime.date(2025, 1, 31)
        assert ledger.entry("a.b", "local-subprocess") is None

    def test_an_empty_file_is_an_empty_ledger(self, tmp_path: Path) -> None:
        """A ledger with only comments accepts nothing."""
        assert Ledger.load(ledger_file(tmp_path, "# nothing accepted\n")).entries == ()

    def test_an_entry_for_a_missing_case_is_stale(self, tmp_path: Path) -> None:
        """An entry whose case does not exist (renamed, removed) is an error."""
        path = ledger_file(tmp_path, ENTRY.format(case="gone", decided="2025-01-31"))
        with pytest.raises(CaseFileError, match=r"'gone'.*does not exist"):
            Ledger.load(path, known_cases=["a.b"])

    def test_a_duplicate_entry_is_an_error(self, tmp_path: Path) -> None:
        """The same case and backend may be listed once."""
        entry = ENTRY.format(case="a.b", decided="2025-01-31")
        with pytest.raises(CaseFileError, match="listed twice"):
            Ledger.load(ledger_file(tmp_path, entry, entry))

    def test_the_decision_date_must_be_a_toml_date(self, tmp_path: Path) -> None:
        """`decided` is a date, not a string that looks like one."""
        path = ledger_file(tmp_path, ENTRY.format(case="a.b", decided='"2025-01-31"'))
        with pytest.raises(CaseFileError, match="decided"):
            Ledger.load(path)

    def test_a_reason_is_required(self, tmp_path: Path) -> None:
        """An entry without a real reason is refused."""
        path = ledger_file(
            tmp_path,
            '[[divergence]]\ncase = "a"\nbackend = "b"\nreason = "x"\ndecided = 2025-01-31\n',
        )
        with pytest.raises(CaseFileError, match="reason"):
            Ledger.load(path)

    def test_the_shipped_ledger_is_valid_for_the_shipped_cases(self) -> None:
        """Every shipped entry names a shipped case."""
        cases = [case.id for case in load_cases()]
        ledger = Ledger.load(default_ledger_path(), known_cases=cases)
        assert {entry.case for entry in ledger.entries} <= set(cases)
