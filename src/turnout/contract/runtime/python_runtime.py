# turnout code-node runtime for Python. Runs INSIDE the sandbox, on every backend, either as
# a script (`python3 -I program.py`) or as a notebook cell (E2B's IPython kernel). The host
# appends one launcher line calling __turnout_run(). Standard library only; Python >= 3.8.
# Keep this text free of lines starting with "%" or "!" (IPython would treat them as magics).
#
# What it does, in order: read the payload (user code + inputs), compile the user code as the
# body of a function whose module-level names are declared global (so a top-level `return`
# works and everything else behaves as module code), run it with the inputs in a builtins
# layer (so `result` is "assigned by the code" exactly when it is in the code's globals),
# pick the output by precedence (return > result > last bare expression > null), convert it
# to JSON, and write one outcome object to the result file. Nothing here prints.


def __turnout_run(inline_payload, payload_path):
    import ast
    import base64
    import builtins
    import datetime
    import decimal
    import importlib
    import json
    import keyword
    import linecache
    import math
    import os
    import symtable
    import sys
    import traceback

    dumps, loads, replace_file = json.dumps, json.loads, os.replace
    filename = "<code>"

    if inline_payload is not None:
        payload = loads(base64.b64decode(inline_payload).decode("utf-8"))
    else:
        with open(payload_path, "r", encoding="utf-8") as handle:
            payload = loads(handle.read())
    code, inputs = payload["code"], payload["inputs"]
    result_path = os.path.abspath(payload["resultPath"])
    kernel_mode = "ipykernel" in sys.modules

    def write_outcome(outcome):
        try:
            text = dumps(outcome, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError, RecursionError) as exc:  # converter bug: say so
            text = dumps({"ok": False, "kind": "output_not_serializable", "name": type(exc).__name__,
                          "message": "the output could not be encoded as JSON: %s" % (exc,)})
        directory = os.path.dirname(result_path)
        os.makedirs(directory, exist_ok=True)
        partial = result_path + ".partial"
        with open(partial, "w", encoding="ascii") as handle:
            handle.write(text)
        replace_file(partial, result_path)

    # ---- compile -------------------------------------------------------------------------

    class Scope(ast.NodeVisitor):
        """Finds what only module-level code may contain, skipping nested function bodies."""

        def __init__(self):
            self.uses_await = False
            self.yield_line = None

        def visit_FunctionDef(self, node):
            for item in node.decorator_list + node.args.defaults + node.args.kw_defaults:
                if item is not None:
                    self.visit(item)

        visit_AsyncFunctionDef = visit_FunctionDef

        def visit_Lambda(self, node):
            pass

        def visit_ClassDef(self, node):
            for item in node.decorator_list + node.bases + [k.value for k in node.keywords]:
                self.visit(item)

        def visit_Await(self, node):
            self.uses_await = True
            self.generic_visit(node)

        def visit_AsyncFor(self, node):
            self.uses_await = True
            self.generic_visit(node)

        visit_AsyncWith = visit_AsyncFor

        def visit_Yield(self, node):
            if self.yield_line is None:
                self.yield_line = node.lineno
            self.generic_visit(node)

        visit_YieldFrom = visit_Yield

    class TopLevel(ast.NodeTransformer):
        """Tags top-level returns and turns `from m import *` into a call that fills globals."""

        def visit_FunctionDef(self, node):
            return node

        visit_AsyncFunctionDef = visit_FunctionDef
        visit_ClassDef = visit_FunctionDef
        visit_Lambda = visit_FunctionDef

        def visit_Return(self, node):
            value = node.value if node.value is not None else ast.Constant(value=None)
            tagged = ast.Tuple(elts=[ast.Constant(value="return"), value], ctx=ast.Load())
            return ast.copy_location(ast.Return(value=tagged), node)

        def visit_ImportFrom(self, node):
            if any(alias.name == "*" for alias in node.names):
                call = ast.Call(func=ast.Name(id="__turnout_import_star__", ctx=ast.Load()),
                                args=[ast.Constant(value=node.module or ""),
                                      ast.Constant(value=node.level)], keywords=[])
                return ast.copy_location(ast.Expr(value=call), node)
            return node

    def syntax_outcome(exc):
        line = exc.lineno if exc.filename in (filename, None, "") else None
        detail = traceback.format_exception_only(type(exc), exc)
        return {"ok": False, "kind": "syntax", "name": type(exc).__name__, "message": exc.msg,
                "line": line, "traceback": "".join(detail)}

    def compile_user_code():
        tree = ast.parse(code, filename, "exec")
        scope = Scope()
        scope.visit(tree)
        if scope.yield_line is not None:
            raise SyntaxError("'yield' outside function", (filename, scope.yield_line, 1, None))
        names = sorted(symbol.get_name() for symbol in
                       symtable.symtable(code, filename, "exec").get_symbols())
        flags, body = 0, []
        for statement in tree.body:
            if isinstance(statement, ast.ImportFrom) and statement.module == "__future__":
                for alias in statement.names:
                    feature = getattr(__import__("__future__"), alias.name, None)
                    flags |= getattr(feature, "compiler_flag", 0)
                continue
            body.append(statement)
        body = [TopLevel().visit(statement) for statement in body]
        if body and isinstance(body[-1], ast.Expr):
            last = body[-1]
            tagged = ast.Tuple(elts=[ast.Constant(value="last"), last.value], ctx=ast.Load())
            body[-1] = ast.copy_location(ast.Return(value=tagged), last)
        if names:
            body.insert(0, ast.Global(names=names))
        if not body:
            body = [ast.Pass()]
        kind = ast.AsyncFunctionDef if scope.uses_await else ast.FunctionDef
        function = kind(name="__turnout_user_code__", args=ast.arguments(
            posonlyargs=[], args=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None,
            defaults=[]), body=body, decorator_list=[], returns=None, type_comment=None)
        if sys.version_info >= (3, 12):
            function.type_params = []
        for node in [function] + body[:1]:
            node.lineno, node.col_offset = 1, 0
        module = ast.fix_missing_locations(ast.Module(body=[function], type_ignores=[]))
        return compile(module, filename, "exec", flags=flags, dont_inherit=True)

    # ---- kernel streams ----------------------------------------------------------------------
    # A notebook kernel's sys.stdout has no `.buffer`, so code writing bytes fails there and
    # works in a script. Give the kernel's streams one that decodes the bytes the way a pipe
    # reader does (UTF-8, invalid bytes as U+FFFD, sequences split across writes kept whole).

    class TextBuffer(object):
        def __init__(self, stream):
            import codecs
            self._stream = stream
            self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

        def write(self, data):
            text = self._decoder.decode(bytes(data))
            if text:
                self._stream.write(text)
            return len(data)

        def flush(self):
            tail = self._decoder.decode(b"", final=True)
            if tail:
                self._stream.write(tail)
            self._stream.flush()

        def writable(self):
            return True

    patched_streams = []
    if kernel_mode:
        for stream in (sys.stdout, sys.stderr):
            if not hasattr(stream, "buffer"):
                try:
                    stream.buffer = TextBuffer(stream)
                    patched_streams.append(stream)
                except Exception:  # noqa: BLE001 - an unusual stream keeps its behaviour
                    pass

    # ---- run ------------------------------------------------------------------------------

    layer = dict(vars(builtins))
    for key, value in inputs.items():
        if key.isidentifier() and not keyword.iskeyword(key):
            layer[key] = value
    if "inputs" not in inputs:
        layer["inputs"] = inputs
    user_globals = {"__name__": "__main__", "__builtins__": layer, "__doc__": None}

    def import_star(module_name, level):
        if level:
            raise ImportError("relative imports are not available in a code node")
        module = importlib.import_module(module_name)
        exported = getattr(module, "__all__", None)
        if exported is None:
            exported = [name for name in vars(module) if not name.startswith("_")]
        for name in exported:
            user_globals[name] = getattr(module, name)

    layer["__turnout_import_star__"] = import_star
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)

    def user_frames(tb):
        frames = traceback.extract_tb(tb)
        for index, frame in enumerate(frames):
            if frame.filename == filename:
                return frames[index:]
        return frames

    def error_outcome(exc, kind):
        frames = user_frames(exc.__traceback__)
        lines = [frame.lineno for frame in frames if frame.filename == filename]
        text = "Traceback (most recent call last):\n" if frames else ""
        text += "".join(traceback.format_list(frames))
        text += "".join(traceback.format_exception_only(type(exc), exc))
        message = str(exc) or ("out of memory" if kind == "memory" else type(exc).__name__)
        return {"ok": False, "kind": kind, "name": type(exc).__name__, "message": message,
                "line": lines[-1] if lines else None, "traceback": text}

    def run_coroutine(coroutine):
        import asyncio
        import threading
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(coroutine)
        box = {}

        def target():
            try:
                box["value"] = asyncio.run(coroutine)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                box["error"] = exc
        worker = threading.Thread(target=target, name="turnout-user-code")
        worker.start()
        worker.join()
        if "error" in box:
            raise box["error"]
        return box.get("value")

    def execute():
        try:
            compiled = compile_user_code()
        except (SyntaxError, ValueError) as exc:
            if isinstance(exc, SyntaxError):
                return syntax_outcome(exc)
            return {"ok": False, "kind": "syntax", "name": type(exc).__name__,
                    "message": str(exc), "line": None, "traceback": None}
        try:
            exec(compiled, user_globals)
            function = user_globals.pop("__turnout_user_code__")
            function.__code__ = function.__code__.replace(co_name="<module>")
            returned = function()
            if hasattr(returned, "__await__"):
                returned = run_coroutine(returned)
        except SystemExit as exc:
            status = exc.code
            if status in (None, 0):
                return {"ok": True, "channel": "none", "value": None}
            return {"ok": False, "kind": "runtime", "name": "SystemExit",
                    "message": "the code called exit with status %r" % (status,),
                    "line": error_outcome(exc, "runtime")["line"], "traceback": None}
        except MemoryError as exc:
            # The user's data still fills memory: release it before building the outcome,
            # or building it raises MemoryError again and the outcome is lost.
            user_globals.clear()
            exc.__context__ = None
            import gc
            gc.collect()
            return error_outcome(exc, "memory")
        except ModuleNotFoundError as exc:
            return error_outcome(exc, "import")
        except BaseException as exc:  # noqa: BLE001 - every user failure becomes an outcome
            return error_outcome(exc, "runtime")
        if isinstance(returned, tuple) and len(returned) == 2 and returned[0] == "return":
            return convert_outcome("return", returned[1])
        if "result" in user_globals:
            return convert_outcome("result", user_globals["result"])
        if isinstance(returned, tuple) and len(returned) == 2 and returned[0] == "last":
            if returned[1] is not None:
                return convert_outcome("last", returned[1])
        return {"ok": True, "channel": "none", "value": None}

    # ---- JSON conversion (documented in docs/contract.md) --------------------------------

    class NotConvertible(Exception):
        pass

    scalar_types = (str, bool, int, type(None))
    time_types = (datetime.datetime, datetime.date, datetime.time)

    def describe(value):
        kind = type(value)
        return kind.__qualname__ if kind.__module__ == "builtins" else "%s.%s" % (
            kind.__module__, kind.__qualname__)

    def key_text(key, path):
        if isinstance(key, str):
            return key
        if isinstance(key, bool) or key is None:
            return dumps(key)
        if isinstance(key, (int, float)):
            return dumps(convert(key, path))
        raise NotConvertible("a dict key of type %s at %s cannot become a JSON object key"
                             % (describe(key), path))

    def convert(value, path, active=None):
        if isinstance(value, scalar_types):
            if isinstance(value, int) and not isinstance(value, bool) and type(value) is not int:
                return int(value)
            if isinstance(value, str) and type(value) is not str:
                return str(value)
            return value
        if isinstance(value, float):
            return float(value) if math.isfinite(value) else None
        if isinstance(value, decimal.Decimal):
            if not value.is_finite():
                return None
            if value == value.to_integral_value() and value.as_tuple().exponent >= 0:
                return int(value)
            return float(value)
        if isinstance(value, time_types):
            return value.isoformat()
        active = set() if active is None else active
        if id(value) in active:
            raise NotConvertible("the value refers to itself at %s" % (path,))
        if len(active) > 400:
            raise NotConvertible("the value is nested deeper than 400 levels at %s" % (path,))
        active.add(id(value))
        try:
            if isinstance(value, dict):
                converted = {}
                for key, item in value.items():
                    text = key_text(key, path)
                    converted[text] = convert(item, "%s[%s]" % (path, dumps(text)), active)
                return converted
            if isinstance(value, (list, tuple)):
                return [convert(item, "%s[%d]" % (path, index), active)
                        for index, item in enumerate(value)]
            if isinstance(value, (set, frozenset)):
                try:
                    items = sorted(value)
                except TypeError:
                    items = list(value)
                return [convert(item, "%s[%d]" % (path, index), active)
                        for index, item in enumerate(items)]
        finally:
            active.discard(id(value))
        raise NotConvertible("a value of type %s at %s cannot be converted to JSON (return "
                             "dicts, lists, strings, numbers, booleans, None, dates, Decimal, "
                             "tuples or sets)" % (describe(value), path))

    def convert_outcome(channel, value):
        try:
            return {"ok": True, "channel": channel, "value": convert(value, "output")}
        except NotConvertible as exc:
            return {"ok": False, "kind": "output_not_serializable", "name": "TypeError",
                    "message": str(exc), "line": None, "traceback": None}
        except RecursionError:
            return {"ok": False, "kind": "output_not_serializable", "name": "RecursionError",
                    "message": "the output is nested too deeply to convert", "line": None,
                    "traceback": None}

    outcome = execute()
    for stream in patched_streams:
        try:
            stream.buffer.flush()
            del stream.buffer
        except Exception:  # noqa: BLE001 - cleanup must not lose the outcome
            pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - a closed stream must not lose the outcome
            pass
    write_outcome(outcome)
    if not kernel_mode and "__file__" in globals():
        os._exit(0)
