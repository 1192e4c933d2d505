"""The module's functions and arguments, read from the Dagger SDK's own resolver.

The command line is generated from what the SDK registers with the engine (names, types,
defaults, ``DefaultPath``/``Ignore``, docs), so it cannot drift from ``dagger call``.
"""

from __future__ import annotations

import enum
import json
import types
import typing
from dataclasses import dataclass
from typing import Any

import dagger
from dagger.mod._arguments import Parameter
from dagger.mod._resolver import Function

# Object types an argument can take on the command line, as `dagger call` spells them.
OBJECT_KINDS: dict[type, str] = {
    dagger.Directory: "Directory",
    dagger.File: "File",
    dagger.Secret: "Secret",
    dagger.Container: "Container",
}
SCALAR_KINDS: dict[type, str] = {str: "String", int: "Int", float: "Float", bool: "Boolean"}


@dataclass(frozen=True)
class ArgSpec:
    """One argument of a function, as the command line sees it."""

    python_name: str
    flag: str  # without the leading "--"
    kind: str  # String, Int, Float, Boolean, Directory, File, Secret, Container, or an enum name
    is_list: bool
    required: bool
    default: Any  # the registered default (JSON-decoded), None when there is none
    default_path: str | None
    ignore: tuple[str, ...]
    doc: str
    enum_type: type[enum.Enum] | None = None

    @property
    def type_name(self) -> str:
        """The type as `dagger call --help` shows it, e.g. ``[]String`` or ``Directory``."""
        return f"[]{self.kind}" if self.is_list else self.kind


@dataclass(frozen=True)
class FunctionSpec:
    """One function of the main object."""

    python_name: str
    command: str  # kebab-case, as in `dagger call <command>`
    doc: str
    returns: str  # String, Directory, File, Container
    args: tuple[ArgSpec, ...]
    cache_policy: str | None = None  # as registered: None (Dagger's default), never, session, TTL

    def arg(self, flag: str) -> ArgSpec | None:
        """The argument spelled ``--flag``, if any."""
        return next((a for a in self.args if a.flag == flag), None)


def kebab(name: str) -> str:
    """``tools_image`` -> ``tools-image`` (the engine's camelCase, then the CLI's kebab-case)."""
    return name.strip("_").replace("_", "-")


def _unwrap(annotation: object) -> tuple[object, bool]:
    """(element type, is a list) of ``X``, ``X | None``, ``list[X]``, ``list[X] | None``."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) != 1:
            raise TypeError(f"unsupported union type {annotation!r}")
        annotation = members[0]
    if typing.get_origin(annotation) is list:
        (element,) = typing.get_args(annotation)
        return element, True
    return annotation, False


def _kind(element: object) -> tuple[str, type[enum.Enum] | None]:
    if isinstance(element, type) and issubclass(element, enum.Enum):
        return element.__name__, element
    for known, name in (*SCALAR_KINDS.items(), *OBJECT_KINDS.items()):
        if element is known:
            return name, None
    raise TypeError(f"no command-line form for arguments of type {element!r}")


def _arg(python_name: str, param: Parameter) -> ArgSpec:
    element, is_list = _unwrap(param.resolved_type)
    kind, enum_type = _kind(element)
    default = json.loads(param.default_value) if param.default_value is not None else None
    return ArgSpec(
        python_name=python_name,
        flag=kebab(param.name),
        kind=kind,
        is_list=is_list,
        required=not param.is_optional,
        default=default,
        default_path=param.default_path,
        ignore=tuple(param.ignore or ()),
        doc=param.doc or "",
        enum_type=enum_type,
    )


def _returns(function: Function[Any, Any]) -> str:
    element, is_list = _unwrap(function.return_type)
    kind, _ = _kind(element)
    if is_list:
        raise TypeError(f"{function}: list results have no command-line form here")
    return kind


def module_functions(main_object: type) -> tuple[FunctionSpec, ...]:
    """Every function of ``main_object`` (a ``@object_type`` class), sorted by name."""
    module = main_object.__dagger_module__  # type: ignore[attr-defined]
    object_type = module.get_object(main_object.__name__)
    specs = []
    for name, function in object_type.functions.items():
        if not name:  # the constructor: this module's main object takes no arguments
            continue
        specs.append(
            FunctionSpec(
                python_name=function.original_name,
                command=kebab(name),
                doc=function.doc or "",
                returns=_returns(function),
                args=tuple(_arg(py, p) for py, p in function.parameters.items()),
                cache_policy=function.cache_policy,
            )
        )
    return tuple(sorted(specs, key=lambda s: s.command))
