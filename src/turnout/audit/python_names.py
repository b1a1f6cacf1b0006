"""Names the Python analysis knows: what a node's code finds defined, and which modules
and calls mean network, files or values that change from run to run.

Calls are matched by their qualified name, the dotted name with import aliases resolved
(`import datetime as dt; dt.datetime.now()` is `datetime.datetime.now`), so a rule names
each function once whatever way the code imported it.
"""

from __future__ import annotations

import builtins

__all__ = [
    "FILE_WRITE_FUNCTIONS",
    "FILE_WRITE_METHODS",
    "GLOBALS",
    "NETWORK_MODULES",
    "PATH_WRITE_METHODS",
    "RANDOM_FUNCTIONS",
    "RANDOM_MODULES",
]

#: What module-level code sees without any input: the builtins, the module's own dunder
#: names, and `inputs` (the injected inputs dict).
GLOBALS: frozenset[str] = frozenset(dir(builtins)) | {
    "__name__",
    "__doc__",
    "__builtins__",
    "__spec__",
    "__loader__",
    "__package__",
    "inputs",
}

#: Modules (or submodules) whose use means talking to the network or a networked service.
NETWORK_MODULES: frozenset[str] = frozenset(
    {
        "requests", "httpx", "aiohttp", "urllib.request", "urllib3", "http.client", "socket",
        "ftplib", "smtplib", "poplib", "imaplib", "telnetlib", "xmlrpc.client", "websocket",
        "websockets", "paramiko", "grpc", "boto3", "botocore", "psycopg2", "psycopg",
        "pymysql", "pymongo", "redis", "openai", "httplib2", "pycurl",
    }
)  # fmt: skip

#: Functions that write, move or delete files.
FILE_WRITE_FUNCTIONS: frozenset[str] = frozenset(
    {
        "os.remove", "os.unlink", "os.mkdir", "os.makedirs", "os.rename", "os.renames",
        "os.replace", "os.rmdir", "os.removedirs", "os.truncate", "os.symlink", "os.link",
        "shutil.copy", "shutil.copy2", "shutil.copyfile", "shutil.copytree", "shutil.move",
        "shutil.rmtree", "tempfile.mkstemp", "tempfile.mkdtemp",
    }
)  # fmt: skip
#: `pathlib.Path` methods that write: matched by name on any object.
PATH_WRITE_METHODS: frozenset[str] = frozenset(
    {"write_text", "write_bytes", "touch", "unlink", "rmdir", "symlink_to", "hardlink_to"}
)
#: Methods that write a file when given a path as their first argument (pandas, matplotlib).
FILE_WRITE_METHODS: frozenset[str] = frozenset(
    {"to_csv", "to_excel", "to_parquet", "to_pickle", "to_feather", "to_hdf", "savefig"}
)

#: Calls whose value is the current time, a random number or a fresh id.
RANDOM_FUNCTIONS: frozenset[str] = frozenset(
    {
        "time.time", "time.time_ns", "time.monotonic", "time.monotonic_ns", "time.perf_counter",
        "time.perf_counter_ns", "time.localtime", "time.gmtime", "time.ctime",
        "datetime.datetime.now", "datetime.datetime.utcnow", "datetime.datetime.today",
        "datetime.date.today", "uuid.uuid1", "uuid.uuid4", "os.urandom",
    }
)  # fmt: skip
#: Modules every function of which is random.
RANDOM_MODULES: frozenset[str] = frozenset({"random", "secrets", "numpy.random"})
