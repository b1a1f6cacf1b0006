"""The one translation of pydantic's validation report into turnout's words.

Every place that validates input with pydantic (node configs, labels, the flag file,
backend options, conformance case files, replay corpora, the divergence ledger) reports
its problems through `field_problems`, so a problem reads the same wherever it is found:
the dotted path of the field as the user spelled it, what is wrong in plain words, and for
an unknown key or a misspelt choice the name it most likely meant. pydantic's own text,
with its documentation link, never reaches a user, and neither does a value given for a
field of the wrong type (it may be a secret in the wrong place); a misspelt choice is
quoted, as the flag file's stage errors always were.

    problems = field_problems(exc, schema=MyModel, prefix=("environments", "prod"))
    ConfigurationError(f"invalid options: {summarize(problems)}")
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pydantic
from pydantic import BaseModel

__all__ = [
    "FieldProblem",
    "Reword",
    "field_problems",
    "known_keys",
    "suggestion",
    "summarize",
]

_MAX_SHOWN = 40
_TYPE_NOUNS = {
    "string_type": "a string",
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "a boolean (true or false)",
    "dict_type": "a mapping (table) of keys to values",
    "model_type": "a mapping (table) of keys to values",
    "model_attributes_type": "a mapping (table) of keys to values",
    "list_type": "a list",
    "tuple_type": "a list",
    "set_type": "a list",
    "frozen_set_type": "a list",
    "bytes_type": "bytes",
    "none_required": "empty (null)",
}


@dataclass(frozen=True)
class FieldProblem:
    """One thing wrong with one field: where (`path`, as the input spells it) and what.

    `kind` is pydantic's error type (`extra_forbidden`, `missing`, `literal_error`, ...)
    and `value` the offending input, for callers that word some kinds their own way.
    """

    path: tuple[str, ...]
    message: str
    kind: str = ""
    value: Any = field(default=None, compare=False, repr=False)

    @property
    def field(self) -> str:
        """The dotted path (`environments.prod.stage`, `inputVariables.2`); "" at the top."""
        return ".".join(self.path)

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.path else self.message


Reword = Callable[[FieldProblem], str | None]
"""A caller's own wording for some problems: the new message, or None to keep turnout's."""


def field_problems(
    error: pydantic.ValidationError,
    *,
    schema: Any = None,
    prefix: Sequence[str] = (),
    reword: Reword | None = None,
) -> list[FieldProblem]:
    """Every problem pydantic found, in turnout's words, one per field.

    `schema` is what was validated (a model class, or a type such as `dict[str, str]`);
    with it, unknown keys get a "did you mean" from the keys that exist there, and the
    member tags pydantic adds inside a union are left out of the path. `prefix` is put in
    front of every path (where the validated value sits in a larger document).
    """
    found: dict[tuple[str, ...], list[FieldProblem]] = {}
    for details in error.errors(include_url=False):
        problem = _problem(details, schema, tuple(prefix))
        if reword is not None:
            replaced = reword(problem)
            if replaced is not None:
                problem = FieldProblem(problem.path, replaced, problem.kind, problem.value)
        found.setdefault(problem.path, []).append(problem)
    return [_merged(problems) for problems in found.values()]


def summarize(problems: Iterable[FieldProblem]) -> str:
    """The problems on one line, `path: message; path: message`."""
    return "; ".join(str(problem) for problem in problems)


def suggestion(word: str, choices: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for the choice closest to `word`, or "" when none is close."""
    import difflib  # only a mistake asks for a suggestion

    close = difflib.get_close_matches(word, [str(choice) for choice in choices], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def known_keys(schema: Any, path: Sequence[str | int] = ()) -> list[str]:
    """The keys a table at `path` inside `schema` may hold (empty when that is not a model)."""
    _, annotation = _resolve(schema, path)
    model = _model(annotation)
    if model is None:
        return []
    return [info.alias or name for name, info in model.model_fields.items()]


def _problem(details: Any, schema: Any, prefix: tuple[str, ...]) -> FieldProblem:
    loc = tuple(details.get("loc", ()))
    is_key = "[key]" in loc
    loc = tuple(part for part in loc if part != "[key]")
    parts, annotation = _resolve(schema, loc)
    kind = str(details.get("type", ""))
    value = details.get("input")
    message = _message(kind, details, value, annotation)
    if kind == "extra_forbidden" and loc:
        message += suggestion(str(loc[-1]), known_keys(schema, loc[:-1]))
    if is_key and message.startswith("must "):
        message = f"the key {message}"
    return FieldProblem((*prefix, *parts), message, kind, value)


def _message(kind: str, details: Any, value: Any, annotation: Any) -> str:
    context = details.get("ctx") or {}
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "is required"
    if kind == "literal_error":
        choices = _literal_choices(annotation)
        expected = context.get("expected", "")
        wanted = f"must be one of {expected}" if " or " in expected else f"must be {expected}"
        hint = suggestion(str(value), choices) if isinstance(value, str) and choices else ""
        return f"{wanted}, not {_shown(value)}{hint}"
    if kind in _TYPE_NOUNS:
        return f"must be {_TYPE_NOUNS[kind]}, not {_kind_of(value)}"
    bound = _bound(kind, context)
    if bound is not None:
        return bound
    message = str(details.get("msg", "is invalid"))
    if kind in ("value_error", "assertion_error"):
        message = message.split(", ", 1)[-1]
    return message


def _bound(kind: str, context: Mapping[str, Any]) -> str | None:
    """The wording of a range or length bound, or None for other kinds."""
    numbers = {
        "greater_than_equal": ("ge", "must be at least {}"),
        "greater_than": ("gt", "must be greater than {}"),
        "less_than_equal": ("le", "must be at most {}"),
        "less_than": ("lt", "must be less than {}"),
        "multiple_of": ("multiple_of", "must be a multiple of {}"),
    }
    if kind in numbers:
        key, text = numbers[kind]
        return text.format(context.get(key))
    if kind in ("string_too_short", "too_short"):
        least = context.get("min_length", 1)
        if least == 1:
            return "must not be empty"
        unit = "characters" if kind.startswith("string") else "items"
        return f"must have at least {least} {unit}"
    if kind in ("string_too_long", "too_long"):
        unit = "characters" if kind.startswith("string") else "items"
        return f"must have at most {context.get('max_length')} {unit}"
    return None


def _merged(problems: list[FieldProblem]) -> FieldProblem:
    """One problem per field: the alternatives of a union ("must be 'auto' or true or
    false, not a string ('yes')"), or else the distinct messages joined."""
    first = problems[0]
    if len(problems) == 1:
        return first
    wanted, rest = [], []
    for problem in problems:
        head, _, tail = problem.message.partition(", not ")
        if head.startswith("must be ") and tail:
            wanted.append(head.removeprefix("must be ").removeprefix("one of "))
        else:
            rest.append(problem.message)
    messages = [f"must be {' or '.join(wanted)}, not {_kind_of(first.value)}"] if wanted else []
    messages += list(dict.fromkeys(rest))
    return FieldProblem(first.path, "; ".join(messages), first.kind, first.value)


def _shown(value: Any) -> str:
    try:
        text = repr(value)
    except ValueError:  # an integer too long to print (sys.get_int_max_str_digits)
        return _kind_of(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _kind_of(value: Any) -> str:
    """`value` named by its kind (`an integer`), never by the value itself: a value put in
    the wrong field may be a secret (a key pasted into the wrong option)."""
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return "a boolean"
    nouns = [
        (str, "a string"),
        (int, "an integer"),
        (float, "a number"),
        (Mapping, "a table"),
        (list, "a list"),
        (tuple, "a list"),
        (bytes, "bytes"),
    ]
    return next((name for kind, name in nouns if isinstance(value, kind)), type(value).__name__)


# -- walking the schema along an error's location ---------------------------------------------


def _resolve(schema: Any, loc: Sequence[str | int]) -> tuple[list[str], Any]:
    """The path to show for `loc` (union member tags left out) and the type found there."""
    annotation = schema
    parts: list[str] = []
    for part in loc:
        annotation = _unwrap(annotation)
        members = _union_members(annotation)
        if len(members) > 1 and isinstance(part, str) and _is_tag(part, members):
            annotation = _member_for_tag(part, members)
            continue
        if len(members) == 1:
            annotation = _unwrap(members[0])
        parts.append(str(part))
        annotation = _step(annotation, part)
    return parts, _unwrap(annotation)


def _is_tag(part: str, members: list[Any]) -> bool:
    """Whether `part` is the tag pydantic puts on the errors of one member of a union
    (`bool`, `literal['auto']`, a model's class name) rather than a key."""
    return not any(_model(member) and part in known_keys(member) for member in members)


def _member_for_tag(tag: str, members: list[Any]) -> Any:
    for member in members:
        if getattr(member, "__name__", None) == tag:
            return member
        if tag.startswith("literal[") and typing.get_origin(member) is typing.Literal:
            return member
    return Any


def _step(annotation: Any, part: str | int) -> Any:
    model = _model(annotation)
    if model is not None:
        for name, info in model.model_fields.items():
            if part in (name, info.alias):
                return info.annotation
        return Any
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (dict, Mapping) or (isinstance(origin, type) and issubclass(origin, Mapping)):
        return args[1] if len(args) == 2 else Any
    if origin in (list, set, frozenset, Sequence):
        return args[0] if args else Any
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return args[0]
        return args[part] if isinstance(part, int) and part < len(args) else Any
    return Any


def _unwrap(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _union_members(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [m for m in typing.get_args(annotation) if m is not type(None)]
    return []


def _model(annotation: Any) -> type[BaseModel] | None:
    annotation = _unwrap(annotation)
    members = _union_members(annotation)
    if len(members) == 1:
        annotation = _unwrap(members[0])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _literal_choices(annotation: Any) -> list[str]:
    annotation = _unwrap(annotation)
    if typing.get_origin(annotation) is typing.Literal:
        return [str(choice) for choice in typing.get_args(annotation)]
    choices: list[str] = []
    for member in _union_members(annotation):
        choices += _literal_choices(member)
    return choices
