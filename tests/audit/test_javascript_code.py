"""The JavaScript analysis: what tree-sitter's parse shows about a node's code."""

from __future__ import annotations

from turnout.audit.javascript_code import analyze_javascript


def test_typescript_is_told_from_a_plain_syntax_error() -> None:
    """Code the TypeScript grammar accepts is TypeScript; code it refuses is a syntax error."""
    typed = analyze_javascript("const total: number = amount * 2;\nreturn total;")
    broken = analyze_javascript("const total = amount * ;\nreturn total;")
    assert (typed.syntax_error, [s.line for s in typed.typescript]) == (None, [1])
    assert broken.syntax_error is not None
    assert (broken.syntax_error.line, broken.typescript) == (1, [])


def test_typescript_code_is_still_analysed() -> None:
    """Past the TypeScript syntax, the rest is read: its modules and globals are seen."""
    facts = analyze_javascript("const _ = require('lodash') as any;\nreturn _.sum(values);")
    assert [m.name for m in facts.modules] == ["lodash"]
    assert [g.name for g in facts.globals_read] == ["values"]


def test_a_typescript_node_reports_no_typescript_findings() -> None:
    """A node stored as typescript is expected to have types: only its other facts count."""
    facts = analyze_javascript("const n: number = Date.now();\nreturn n;", typescript=True)
    assert facts.typescript == []
    assert [s.paths for s in facts.nondeterminism] == [(("output",),)]


def test_top_level_return_and_await_parse() -> None:
    """A node is a function body: top-level `return` and `await` are not syntax errors."""
    facts = analyze_javascript("const r = await Promise.resolve(1);\nreturn r;")
    assert facts.syntax_error is None
    assert facts.output_channels == {"return"}


def test_declared_and_assigned_names_are_not_globals() -> None:
    """Parameters, destructuring, catch and loop variables, functions and sloppy assignments
    define names; what is left are the globals the code reads."""
    code = (
        "const { a, b: c, ...rest } = inputs.payload;\n"
        "function f(x = 1, [p, q]) { return x + p + q; }\n"
        "try { total = f(a, [c, 2]); } catch (err) { total = 0; }\n"
        "for (const item of rows) total += item;\n"
        "return { total, rest, missing };"
    )
    facts = analyze_javascript(code)
    assert [(g.name, g.line) for g in facts.globals_read] == [("rows", 4), ("missing", 5)]


def test_reads_guarded_by_typeof_are_not_globals() -> None:
    """`typeof shared !== 'undefined' ? shared : {}` cannot throw: not reported."""
    facts = analyze_javascript("const state = typeof shared !== 'undefined' ? shared : {};")
    assert facts.globals_read == []


def test_inputs_reads_are_collected_once_per_key() -> None:
    """`inputs.a`, `inputs["b"]`, `inputs?.a` give keys a and b, at their first line."""
    facts = analyze_javascript('const x = inputs.a;\nconst y = inputs["b"];\nreturn inputs?.a;')
    assert [(s.name, s.line) for s in facts.inputs_read] == [("a", 1), ("b", 2)]


def test_module_forms_are_told_apart() -> None:
    """require with a literal, a computed name, a local file, dynamic import() and ESM."""
    code = (
        "const a = require('dayjs');\n"
        "const b = require(name);\n"
        "const c = require('./helpers');\n"
        "const d = await import('node:fs');\n"
    )
    facts = analyze_javascript(code)
    assert [(m.name, m.detail) for m in facts.modules] == [
        ("dayjs", "require"),
        ("", "dynamic"),
        ("./helpers", "relative"),
        ("node:fs", "import"),
    ]


def test_environment_reads_name_the_variable() -> None:
    """process.env.X, process.env['Y'] and destructuring all name their variables."""
    code = "const a = process.env.X;\nconst b = process.env['Y'];\nconst { Z } = process.env;"
    facts = analyze_javascript(code)
    assert [(e.name, e.line) for e in facts.environment] == [("X", 1), ("Y", 2), ("Z", 3)]


def test_network_comes_from_fetch_constructors_and_modules() -> None:
    """fetch(), new WebSocket() and require('axios') are network; a local `fetch` is not."""
    code = (
        "const axios = require('axios');\nawait fetch(url);\nconst socket = new WebSocket(url);\n"
    )
    assert [n.line for n in analyze_javascript(code).network] == [1, 2, 3]
    local = "function fetch(x) { return x; }\nreturn fetch(1);"
    assert analyze_javascript(local).network == []


def test_file_writes_through_aliases_promises_and_destructuring() -> None:
    """fs.promises.writeFile, a destructured appendFileSync and require('fs').rmSync write."""
    code = (
        "const fs = require('node:fs');\n"
        "await fs.promises.writeFile('a', 'x');\n"
        "const { appendFileSync: add } = require('fs');\n"
        "add('b', 'y');\n"
        "require('fs').rmSync('c');\n"
        "fs.readFileSync('d');\n"
    )
    assert [w.line for w in analyze_javascript(code).file_writes] == [2, 4, 5]


def test_random_ids_and_times_follow_their_values_to_the_output() -> None:
    """Through a variable, a function, a member assignment and an array map."""
    code = (
        "const { v4 } = require('uuid');\n"
        "const id = v4();\n"
        "function stamp() { return Date.now(); }\n"
        "const meta = {};\n"
        "meta.seed = Math.random();\n"
        "return { id, at: stamp(), meta, rows: rows.map((r) => ({ ...r, t: new Date() })) };"
    )
    facts = analyze_javascript(code)
    assert [(s.line, s.paths) for s in facts.nondeterminism] == [
        (2, (("output", "id"),)),
        (3, (("output", "at"),)),
        (5, (("output", "meta", "seed"),)),
        (6, (("output", "rows"),)),
    ]


def test_printed_times_reach_stdout_stderr_and_logs() -> None:
    """console.log of a time reaches stdout and logs; console.error stderr and logs."""
    facts = analyze_javascript("console.log(Date.now());\nconsole.error(new Date());")
    assert [s.paths for s in facts.nondeterminism] == [
        (("stdout",), ("logs",)),
        (("stderr",), ("logs",)),
    ]


def test_times_that_do_not_reach_the_output_have_no_path() -> None:
    """A time used in a condition changes nothing visible: no path."""
    facts = analyze_javascript("if (Date.now() > limit) { throw new Error('late'); }\nreturn 1;")
    assert [s.paths for s in facts.nondeterminism] == [()]


def test_a_date_from_a_value_is_deterministic() -> None:
    """new Date(value) and a shadowed Date are not non-deterministic."""
    assert analyze_javascript("return new Date(order.createdAt);").nondeterminism == []
    local = "const Date = { now: () => 1 };\nreturn Date.now();"
    assert analyze_javascript(local).nondeterminism == []


def test_a_nul_byte_in_a_string_does_not_break_the_parse() -> None:
    """tree-sitter refuses a raw NUL that V8 accepts in a string literal; it is parsed."""
    assert analyze_javascript("return 'a\x00b';").syntax_error is None
