"""The "Layout" section of docs/architecture.md lists exactly the packages the tree has, and
no module is over the size past which it is doing more than one job.

A package is a directory with `__init__.py` below `src/turnout/` or a plugin's `src/`; each
directory of `clients/` is listed too. The section is a table whose first column names each
one as a path in backticks; a package added without a line, or a line left behind by a
package that is gone, fails here with the fix.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE = ROOT / "docs" / "architecture.md"
ROW = re.compile(r"^\|\s*`(?P<path>[^`]+)`\s*\|\s*(?P<job>[^|]*?)\s*\|\s*$")


def layout_section(markdown: str) -> str:
    """The text of the `## Layout` section, up to the next second-level heading."""
    match = re.search(r"^## Layout\n(?P<body>.*?)(?=^## |\Z)", markdown, re.M | re.S)
    assert match, f"{ARCHITECTURE} has no '## Layout' section"
    return match.group("body")


def listed(markdown: str) -> dict[str, str]:
    """Each path the Layout table lists (with a trailing slash), and its job."""
    rows = (ROW.match(line) for line in layout_section(markdown).splitlines())
    return {row["path"]: row["job"] for row in rows if row is not None}


def packages(root: Path) -> set[str]:
    """Every package of turnout's distributions, and each client, as a path with a slash."""
    inits = [
        *(root / "src" / "turnout").rglob("__init__.py"),
        *(init for src in (root / "plugins").glob("*/src") for init in src.rglob("__init__.py")),
    ]
    found = {
        f"{init.parent.relative_to(root).as_posix()}/"
        for init in inits
        if "node_modules" not in init.parts
    }
    clients = root / "clients"
    if clients.is_dir():
        found |= {f"clients/{path.name}/" for path in clients.iterdir() if path.is_dir()}
    return found


def test_every_package_is_listed() -> None:
    """Each package in the tree has a line in the Layout section."""
    missing = sorted(packages(ROOT) - set(listed(ARCHITECTURE.read_text("utf-8"))))
    assert not missing, (
        f"add a row `| \\`path/\\` | its job |` to the Layout section of {ARCHITECTURE} for: "
        f"{missing}"
    )


def test_every_listed_package_exists() -> None:
    """Each line of the Layout section names a package that is still in the tree."""
    gone = sorted(set(listed(ARCHITECTURE.read_text("utf-8"))) - packages(ROOT))
    assert not gone, (
        f"remove (or correct) these rows of the Layout section of {ARCHITECTURE}: {gone}"
    )


def test_every_listed_package_says_its_job() -> None:
    """No line of the Layout section leaves its job empty."""
    empty = [path for path, job in listed(ARCHITECTURE.read_text("utf-8")).items() if not job]
    assert not empty, f"say what these packages are for: {empty}"


def test_a_new_package_or_a_stale_line_is_caught(tmp_path: Path) -> None:
    """A package missing from the table, and a row for one that is gone, both show."""
    (tmp_path / "src" / "turnout" / "fresh").mkdir(parents=True)
    (tmp_path / "src" / "turnout" / "__init__.py").touch()
    (tmp_path / "src" / "turnout" / "fresh" / "__init__.py").touch()
    markdown = "## Layout\n\n| package | job |\n|---|---|\n| `src/turnout/` | core |\n"
    markdown += "| `src/turnout/gone/` | was here |\n\n## Next\n| `src/turnout/fresh/` | x |\n"
    table = set(listed(markdown))
    assert packages(tmp_path) - table == {"src/turnout/fresh/"}
    assert table - packages(tmp_path) == {"src/turnout/gone/"}


MAX_MODULE_LINES = 450


def test_no_module_is_over_the_size_limit() -> None:
    """No module of turnout's distributions is over 450 lines: a module that grows past it
    is doing more than one job, and is split by job (docs/architecture.md)."""
    modules = [
        *(ROOT / "src").rglob("*.py"),
        *(path for src in (ROOT / "plugins").glob("*/src") for path in src.rglob("*.py")),
    ]
    over = {
        path.relative_to(ROOT).as_posix(): lines
        for path in modules
        if "node_modules" not in path.parts
        and (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert over == {}, f"split these by job (at most {MAX_MODULE_LINES} lines each): {over}"
