"""Turn pydantic validation errors into ``(field, message)`` problems people can act on."""

from __future__ import annotations

import re
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

Problem = tuple[str, str]
"""``(dotted field path, message)``; the path is empty for a whole-file problem."""

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def field_path(loc: tuple[int | str, ...]) -> str:
    """``('tests', 'commands', 0, 'name')`` -> ``tests.commands[0].name``.

    Keys that are not plain names are quoted: ``install.symlinks["/lib/modules"]``.
    """
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part == "[key]":
            text += " (key)"
        elif _PLAIN_KEY.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]".replace("'", '"')
    return text


def validation_problems(error: ValidationError, model: type[BaseModel]) -> list[Problem]:
    """One problem per pydantic error, saying what is allowed where pydantic does not."""
    problems = []
    for detail in error.errors(include_url=False):
        raw_loc = tuple(detail["loc"])
        loc = _without_union_tags(model, raw_loc)
        message = (
            str(detail["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        )
        kind = detail["type"]
        if kind == "extra_forbidden":
            allowed = _allowed_fields(model, raw_loc[:-1])
            if allowed:
                message += f"; allowed fields here: {', '.join(allowed)}"
        elif kind == "missing":
            message = "required field is missing"
        elif kind == "union_tag_invalid":
            context = detail.get("ctx", {})
            loc = (*loc, str(context.get("discriminator", "")).strip("'"))
            message = f"{context.get('tag')!r} is not one of {context.get('expected_tags')}"
        elif kind not in {"value_error", "assertion_error"}:
            value = detail.get("input")
            if isinstance(value, str | int | float | bool):
                message += f" (got {value!r})"
        problems.append((field_path(loc), message))
    return problems


def _without_union_tags(
    model: type[BaseModel], loc: tuple[int | str, ...]
) -> tuple[int | str, ...]:
    """``loc`` without the tags pydantic inserts for tagged unions: ``artifacts[0].member.target``
    is the field ``artifacts[0].target`` of the member tagged 'member'."""
    kept: list[int | str] = []
    current: Any = model
    for part in loc:
        current = _strip_optional(current)
        members = _tagged_members(current)
        if isinstance(part, str) and part in members:
            current = members[part]
            continue
        kept.append(part)
        current = _step(current, part)
    return tuple(kept)


def _tagged_members(annotation: object) -> dict[str, type[BaseModel]]:
    """Tag -> model of a discriminated union of models (a one-value Literal field each)."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) not in (typing.Union, types.UnionType):
        return {}
    members: dict[str, type[BaseModel]] = {}
    for member in typing.get_args(annotation):
        if isinstance(member, type) and issubclass(member, BaseModel):
            for field in member.model_fields.values():
                values = typing.get_args(field.annotation)
                if typing.get_origin(field.annotation) is typing.Literal and len(values) == 1:
                    members[str(values[0])] = member
    return members


def _step(current: Any, part: int | str) -> Any:  # noqa: ANN401 - walks annotations
    if isinstance(part, int):
        args = typing.get_args(current)
        return args[0] if args else None
    if isinstance(current, type) and issubclass(current, BaseModel):
        field = current.model_fields.get(part)
        return field.annotation if field else None
    if typing.get_origin(current) is dict:
        return typing.get_args(current)[1]
    return None


def _allowed_fields(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    current: Any = model
    for part in loc:
        current = _strip_optional(current)
        members = _tagged_members(current)
        if members and isinstance(part, str) and part in members:
            current = members[part]
            continue
        if isinstance(part, int):
            args = typing.get_args(current)
            current = args[0] if args else None
        elif isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part)
            current = field.annotation if field else None
        elif typing.get_origin(current) is dict:
            current = typing.get_args(current)[1]
        else:
            return []
    current = _strip_optional(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _strip_optional(annotation: object) -> object:
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation
