"""Readable scenario errors: pydantic's errors as `FILE: key.path[0].sub: expected (got ...)`.

An unknown key names the keys allowed at that place (and the closest one, for typos), found
by walking the pydantic model classes along the error's key path.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

__all__ = ["ScenarioError", "format_errors", "key_path"]

MAX_GOT = 60


class ScenarioError(ValueError):
    """A scenario that cannot be used; the message lists every problem, one per line."""


def key_path(loc: tuple[int | str, ...]) -> str:
    """`('models', 0, 'weight')` -> `models[0].weight`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def format_errors(file: str, error: ValidationError, root: type[BaseModel]) -> str:
    """Every error of `error`, one line each, prefixed by `file`."""
    lines = []
    for item in error.errors(include_url=False):
        loc = tuple(p for p in item["loc"] if not _is_union_tag(p))
        lines.append(f"{file}: {key_path(loc)}: {_explain(item, loc, root)}")
    return "\n".join(dict.fromkeys(lines))


def _is_union_tag(part: int | str) -> bool:
    # pydantic names union members in the path (`str`, `list[Message]`, ...): not keys.
    return isinstance(part, str) and ("[" in part or part in ("str", "int", "float", "bool"))


def _explain(item: Any, loc: tuple[int | str, ...], root: type[BaseModel]) -> str:
    kind = item["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(root, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown key; expected one of: {', '.join(allowed)}{hint}"
    if kind == "missing":
        return "required key is missing"
    message = str(item["msg"]).removeprefix("Value error, ")
    if "(got " in message or isinstance(item.get("input"), dict):
        return message
    return f"{message} (got {_got(item.get('input'))})"


def _got(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_GOT else text[: MAX_GOT - 1] + "…"


def _allowed_keys(root: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    model: type[BaseModel] | None = root
    for part in loc:
        if model is None:
            return []
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        model = _model_in(field.annotation) if field is not None else None
    return list(model.model_fields) if model is not None else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The first pydantic model class inside an annotation (`list[X] | None` -> X)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is None and not isinstance(annotation, types.UnionType):
        return None
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
