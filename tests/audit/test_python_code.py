"""The Python analysis: what `ast` shows about a node's code."""

from __future__ import annotations

from turnout.audit.python_code import analyze_python


def test_top_level_return_and_await_parse() -> None:
    """turnout accepts a top-level `return` and `await`; so does the analysis."""
    facts = analyze_python("value = await fetch_it()\nreturn value")
    assert facts.syntax_error is None
    assert facts.output_channels == {"return"}


def test_a_syntax_error_names_its_line() -> None:
    """A missing colon on line 2 is a syntax error at line 2."""
    facts = analyze_python("rows = []\nfor row in rows\n    pass")
    assert facts.syntax_error is not None
    assert facts.syntax_error.line == 2


def test_bound_names_are_not_globals() -> None:
    """Imports, parameters, comprehension and loop variables, `except as`, `with as`,
    walrus and `global` define names; builtins and `inputs` are there already."""
    code = (
        "import json as j\n"
        "def f(a, *rest, key=None, **more):\n"
        "    global counter\n"
        "    return [x for x in rest if (n := len(x))]\n"
        "try:\n"
        "    data = j.loads(text)\n"
        "except ValueError as error:\n"
        "    data = {}\n"
        "with open('/etc/hostname') as handle:\n"
        "    host = handle.read()\n"
        "result = (len(data), inputs, counter, undefined_name)"
    )
    facts = analyze_python(code)
    assert [(g.name, g.line) for g in facts.globals_read] == [("text", 6), ("undefined_name", 11)]


def test_reads_under_except_name_error_are_guarded() -> None:
    """`try: shared except NameError:` is how Python code checks for a global."""
    facts = analyze_python("try:\n    state = shared\nexcept NameError:\n    state = {}")
    assert facts.globals_read == []


def test_modules_resolve_aliases_and_relative_imports() -> None:
    """`import a.b`, `from x import y`, a relative import and importlib are told apart."""
    code = (
        "import xml.etree.ElementTree as ET\n"
        "from dateutil import parser\n"
        "from . import helpers\n"
        "import importlib\n"
        "yaml = importlib.import_module('yaml')\n"
        "other = __import__(name)\n"
    )
    facts = analyze_python(code)
    assert [(m.name, m.detail) for m in facts.modules] == [
        ("xml.etree.ElementTree", "import"),
        ("dateutil", "import"),
        (".", "relative"),
        ("importlib", "import"),
        ("yaml", "import"),
        ("", "dynamic"),
    ]


def test_environment_reads_through_aliases_name_the_variable() -> None:
    """os.environ[...], environ.get(...) after `from os import environ`, os.getenv(...)."""
    code = (
        "import os\n"
        "from os import environ\n"
        "a = os.environ['A']\n"
        "b = environ.get('B')\n"
        "c = os.getenv('C', '')\n"
    )
    facts = analyze_python(code)
    assert [(e.name, e.line) for e in facts.environment] == [("A", 3), ("B", 4), ("C", 5)]


def test_network_modules_and_calls() -> None:
    """`from urllib import request` and `urllib.request.urlopen` are network; `json` is not."""
    imports = analyze_python("from urllib import request\nimport json")
    assert [n.line for n in imports.network] == [1]
    facts = analyze_python("import urllib.parse\nurllib.request.urlopen(url)")
    assert [(n.name, n.line) for n in facts.network] == [("urllib.request", 2)]


def test_file_writes_by_mode_function_and_method() -> None:
    """open(..., 'a'), a mode that cannot be read, os.remove, Path.write_text, to_csv(path)."""
    code = (
        "import os\n"
        "open('log.txt', 'a').write('x')\n"
        "open('x', mode=chosen)\n"
        "os.remove('old.txt')\n"
        "report.write_text('done')\n"
        "frame.to_csv('out.csv')\n"
        "open('in.txt').read()\n"
        "frame.to_csv()\n"
    )
    assert [w.line for w in analyze_python(code).file_writes] == [2, 3, 4, 5, 6]


def test_times_and_ids_follow_their_values_to_the_output() -> None:
    """Through aliases, variables, subscript assignment, functions and comprehensions."""
    code = (
        "import datetime as dt\n"
        "import random, uuid\n"
        "def stamp():\n"
        "    return dt.datetime.now().isoformat()\n"
        "out = {}\n"
        "out['seed'] = random.random()\n"
        "result = {'at': stamp(), 'out': out, 'ids': [str(uuid.uuid4()) for _ in rows]}"
    )
    facts = analyze_python(code)
    assert [(s.line, s.paths) for s in facts.nondeterminism] == [
        (4, (("output", "at"),)),
        (6, (("output", "out", "seed"),)),
        (7, (("output", "ids", None),)),
    ]


def test_printed_times_reach_stdout_or_stderr() -> None:
    """print(time.time()) reaches stdout; with file=sys.stderr, stderr; and logs both."""
    code = "import sys, time\nprint(time.time())\nprint(time.time(), file=sys.stderr)"
    assert [s.paths for s in analyze_python(code).nondeterminism] == [
        (("stdout",), ("logs",)),
        (("stderr",), ("logs",)),
    ]


def test_a_time_from_a_value_is_deterministic() -> None:
    """datetime.fromisoformat(value) and time.sleep() are not sources of change."""
    code = (
        "import time\nfrom datetime import datetime\ntime.sleep(0)\n"
        "return datetime.fromisoformat(s)"
    )
    assert analyze_python(code).nondeterminism == []


def test_a_nul_byte_is_a_syntax_error() -> None:
    """Python refuses source with a NUL byte: reported, not raised."""
    facts = analyze_python("result = 1\x00")
    assert facts.syntax_error is not None
