# Run inside every IPython kernel at start-up (`IPKernelApp.exec_files`); never imported.
#
# Output is sent 5 ms after it is written. ipykernel buffers what code prints and sends it
# from its IO thread 0.2 s later (its default `flush_interval`). Code that prints and then
# floods the machine (a fork bomb: hundreds of processes, on a host other sandboxes and
# workers share) starved that thread, and output printed in time reached the caller only
# after the node's timeout (4 s), or never. 5 ms still sends the writes of one print() (or
# of a loop of them) together, and is over before a process the code started can fork.
#
# The JSON formatter: E2B's code-interpreter template installs an extra `application/json`
# formatter in its kernels, so any `dict` or `list` result also carries a `json` field
# (converted the way orjson does it: NaN and infinities become null, non-string keys become
# strings, datetimes ISO strings; anything it cannot convert means no `json` field at all).
# This file reproduces that with the standard library. It runs in the user namespace, so it has
# no docstring and no module-level imports, defines its functions and deletes them again:
# user code sees nothing of it.


def _turnout_install_json_formatter() -> None:
    import dataclasses
    import datetime
    import enum
    import math
    import sys
    import uuid
    from typing import Any

    from IPython import get_ipython
    from IPython.core.formatters import JSONFormatter

    max_depth = 254  # orjson's limit
    int_min, int_max = -(2**63), 2**64 - 1  # orjson rejects integers outside this range

    def key(value: Any) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if value is None:
            return "null"
        if isinstance(value, enum.Enum):
            return key(value.value)
        if isinstance(value, int | float | datetime.date | datetime.time | uuid.UUID):
            converted = convert(value, 1)
            return converted if isinstance(converted, str) else str(converted)
        raise TypeError(f"unsupported key type {type(value).__name__}")

    def convert(value: Any, depth: int) -> Any:
        if depth > max_depth:
            raise TypeError("recursion limit reached")
        if value is None or isinstance(value, str | bool):
            return value
        if isinstance(value, int):
            if not int_min <= value <= int_max:
                raise TypeError("integer exceeds 64-bit range")
            return int(value)
        if isinstance(value, float):
            return value if math.isfinite(value) else None
        if isinstance(value, dict):
            return {key(k): convert(v, depth + 1) for k, v in value.items()}
        if isinstance(value, list) or type(value) is tuple:
            return [convert(item, depth + 1) for item in value]
        if isinstance(value, datetime.datetime | datetime.date | datetime.time):
            return value.isoformat()
        if isinstance(value, uuid.UUID):
            return str(value)
        if isinstance(value, enum.Enum):
            return convert(value.value, depth + 1)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {
                field.name: convert(getattr(value, field.name), depth + 1)
                for field in dataclasses.fields(value)
            }
        numpy = sys.modules.get("numpy")
        if numpy is not None and isinstance(value, numpy.ndarray | numpy.generic):
            return convert(value.tolist(), depth + 1)
        raise TypeError(f"unsupported type {type(value).__name__}")

    class TurnoutJSONFormatter(JSONFormatter):
        def __call__(self, obj: Any) -> Any:
            if isinstance(obj, list | dict):
                try:
                    return convert(obj, 1), {"expanded": True}
                except (TypeError, ValueError, RecursionError):
                    pass
            return super().__call__(obj)

    shell = get_ipython()
    formatters = shell.display_formatter.formatters
    formatters["application/json"] = TurnoutJSONFormatter(parent=shell.display_formatter)


def _turnout_send_output_at_once() -> None:
    import sys

    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "flush_interval"):
            stream.flush_interval = 0.005


_turnout_install_json_formatter()
_turnout_send_output_at_once()
del _turnout_install_json_formatter, _turnout_send_output_at_once
