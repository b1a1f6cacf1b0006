"""What user code can import in an E2B sandbox: the e2b backend's `packages` capability.

In E2B's cloud the answer is the template's. The options `python_packages` and
`javascript_packages` state it; their defaults are what E2B's public `code-interpreter-v1`
template installs, as its published build says (e2b-dev/code-interpreter, `template/`):
a `python:3.12` image with Node 20, the pip requirements of `template/requirements.txt`
(listed here by import name, plus the dependencies those packages are published with that
user code commonly imports), and no npm package for user code (the JavaScript kernel is
installed globally, where `require` does not look). A custom template states its own lists.

The embedded local E2B-compatible server is not that template: its kernels run this
machine's interpreters (the server's own Python environment, the `node` on PATH). When the
backend will talk to it, the declaration is what those interpreters really import, found
out by asking them (`turnout.packages.probe`), so that an audit against the development
environment does not promise pandas where there is none.
"""

from __future__ import annotations

import os
import shutil
import sys

from turnout.models import Language
from turnout.packages import interpreter_commands, probe

__all__ = [
    "NODE_BUILTINS",
    "TEMPLATE_JAVASCRIPT_PACKAGES",
    "TEMPLATE_PYTHON_PACKAGES",
    "local_server_packages",
    "python_stdlib",
    "template_packages",
]

#: Import names of `code-interpreter-v1`'s pip requirements (`template/requirements.txt`).
TEMPLATE_PYTHON_REQUIREMENTS = (
    "IPython", "PIL", "aiohttp", "bokeh", "bs4", "cv2", "docx", "e2b_charts", "gensim",
    "imageio", "ipykernel", "joblib", "jupyter_server", "librosa", "matplotlib", "nltk",
    "numpy", "openpyxl", "orjson", "pandas", "plotly", "pytest", "pytz", "requests",
    "scipy", "seaborn", "skimage", "sklearn", "soundfile", "spacy", "sympy", "textblob",
    "tornado", "urllib3", "xarray", "xlrd",
)  # fmt: skip
#: Dependencies those requirements are published with, that user code imports by name
#: (pandas: dateutil; requests: certifi, idna, charset_normalizer; bokeh: jinja2, yaml; ...).
TEMPLATE_PYTHON_DEPENDENCIES = (
    "attrs", "certifi", "charset_normalizer", "click", "contourpy", "cycler", "dateutil",
    "fontTools", "idna", "jinja2", "kiwisolver", "markupsafe", "mpmath", "multidict",
    "numba", "packaging", "pydantic", "pygments", "pyparsing", "regex", "six", "soupsieve",
    "tenacity", "threadpoolctl", "tqdm", "traitlets", "yaml", "yarl",
)  # fmt: skip
TEMPLATE_PYTHON_PACKAGES: tuple[str, ...] = tuple(
    sorted({*TEMPLATE_PYTHON_REQUIREMENTS, *TEMPLATE_PYTHON_DEPENDENCIES})
)
TEMPLATE_JAVASCRIPT_PACKAGES: tuple[str, ...] = ()
#: `require('module').builtinModules` of Node 20 (the template's), without the internal
#: `_`-prefixed aliases.
NODE_BUILTINS: frozenset[str] = frozenset(
    {
        "assert", "assert/strict", "async_hooks", "buffer", "child_process", "cluster",
        "console", "constants", "crypto", "dgram", "diagnostics_channel", "dns",
        "dns/promises", "domain", "events", "fs", "fs/promises", "http", "http2", "https",
        "inspector", "inspector/promises", "module", "net", "os", "path", "path/posix",
        "path/win32", "perf_hooks", "process", "punycode", "querystring", "readline",
        "readline/promises", "repl", "stream", "stream/consumers", "stream/promises",
        "stream/web", "string_decoder", "sys", "timers", "timers/promises", "tls",
        "trace_events", "tty", "url", "util", "util/types", "v8", "vm", "wasi",
        "worker_threads", "zlib",
    }
)  # fmt: skip
TEMPLATE_PYTHON_VERSION = (3, 12)
#: Standard-library modules Python 3.12 removed (PEP 594's first batch left with 3.13).
_REMOVED_IN_3_12 = frozenset({"asynchat", "asyncore", "distutils", "imp", "smtpd"})
_REMOVED_IN_3_13 = frozenset(
    {
        "aifc", "audioop", "cgi", "cgitb", "chunk", "crypt", "imghdr", "lib2to3", "mailcap",
        "msilib", "nis", "nntplib", "ossaudiodev", "pipes", "sndhdr", "spwd", "sunau",
        "telnetlib", "uu", "xdrlib",
    }
)  # fmt: skip
#: HOME of the local server's probe: absent, like the modules of a fresh sandbox's HOME.
PROBE_HOME = "/nonexistent/turnout-probe-home"


def python_stdlib() -> frozenset[str]:
    """The template Python's standard-library module names, from this interpreter's list
    adjusted for the modules added back or removed between the two versions."""
    names = set(sys.stdlib_module_names)
    if sys.version_info[:2] < TEMPLATE_PYTHON_VERSION:
        names -= _REMOVED_IN_3_12
    elif sys.version_info[:2] > TEMPLATE_PYTHON_VERSION:
        names |= _REMOVED_IN_3_13
    return frozenset(names)


def template_packages(
    python_packages: tuple[str, ...] | list[str], javascript_packages: tuple[str, ...] | list[str]
) -> dict[Language, frozenset[str]]:
    """What a template with these pip and npm packages lets user code import."""
    return {
        "python": python_stdlib() | frozenset(python_packages),
        "javascript": NODE_BUILTINS | frozenset(javascript_packages),
    }


def local_server_packages() -> dict[Language, frozenset[str]]:
    """What the local E2B-compatible server's kernels import: its Python (the interpreter
    that starts it, not isolated: IPython kernels are not) and the `node` on PATH, asked
    with the allow-listed environment a sandbox's kernels get."""
    commands = interpreter_commands(sys.executable, shutil.which("node"), isolated=False)
    env = {"PATH": os.environ.get("PATH") or os.defpath, "LANG": "C.UTF-8", "TZ": "UTC"}
    return probe(commands, env={**env, "HOME": PROBE_HOME}, cwd="/")
