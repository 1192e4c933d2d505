"""Parse a ``dagger call`` command line against the module's function signatures.

Same spelling as the Dagger CLI (v0.19): ``<function> --flag value`` or ``--flag=value``;
list flags take comma-separated values (CSV, quotes removed) and may be repeated; a Boolean
flag alone means true; a function that returns a Dagger object may be followed by one chained
call (``export --path out``, ``publish --address ref``). Nothing is checked against the engine
here: a mistake fails before any connection is made.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field

from pipelines.cli.signatures import ArgSpec, FunctionSpec
from pipelines.errors import InputError

# Calls that may follow a function returning an object: name -> (its flags, result kinds).
CHAINS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "export": (("path",), ("Directory", "File", "Container")),
    "publish": (("address",), ("Container",)),
    "entries": ((), ("Directory",)),
    "contents": ((), ("File",)),
    "stdout": ((), ("Container",)),
}
TRUE = {"true", "1", "t", "yes"}
FALSE = {"false", "0", "f", "no"}


@dataclass(frozen=True)
class Chained:
    """A call on the function's result, e.g. ``export --path out``."""

    name: str
    args: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Call:
    """A parsed command line: the function, its raw values by argument, and the chain."""

    function: FunctionSpec
    values: dict[str, list[str] | str | bool]
    chain: Chained | None


def split_list(value: str) -> list[str]:
    """One occurrence of a list flag: CSV after removing quote characters, as pflag does."""
    cleaned = value.translate(str.maketrans("", "", "\"'`"))
    if not cleaned:
        return []
    return [item.strip() for item in next(csv.reader([cleaned]))]


def _flag_value(
    spec: FunctionSpec, token: str, rest: list[str]
) -> tuple[ArgSpec, str | None, list[str]]:
    name, eq, inline = token[2:].partition("=")
    arg = spec.arg(name)
    if arg is None:
        valid = " ".join(f"--{a.flag}" for a in spec.args)
        raise InputError(f"{spec.command}: unknown flag --{name}; valid flags: {valid}")
    if eq:
        return arg, inline, rest
    if arg.kind == "Boolean" and not arg.is_list:
        return arg, None, rest
    if not rest:
        raise InputError(f"{spec.command}: flag --{name} needs a value ({arg.type_name})")
    return arg, rest[0], rest[1:]


def _store(values: dict[str, list[str] | str | bool], arg: ArgSpec, raw: str | None) -> None:
    if arg.kind == "Boolean" and not arg.is_list:
        text = "true" if raw is None else raw.lower()
        if text not in TRUE | FALSE:
            raise InputError(f"--{arg.flag}: {raw!r} is not a boolean (true or false)")
        values[arg.python_name] = text in TRUE
    elif arg.is_list:
        previous = values.get(arg.python_name, [])
        assert isinstance(previous, list) and raw is not None
        values[arg.python_name] = [*previous, *split_list(raw)]
    else:
        assert raw is not None
        values[arg.python_name] = raw


def _chain(spec: FunctionSpec, tokens: list[str]) -> Chained:
    name, *rest = tokens
    if name not in CHAINS or spec.returns not in CHAINS[name][1]:
        valid = sorted(n for n, (_, kinds) in CHAINS.items() if spec.returns in kinds)
        raise InputError(
            f"{spec.command} returns {spec.returns}: {name!r} cannot follow it; "
            f"valid: {', '.join(valid) or 'nothing (it prints its result)'}"
        )
    flags, _ = CHAINS[name]
    args: dict[str, str] = {}
    while rest:
        token, *rest = rest
        key, eq, inline = token.removeprefix("--").partition("=")
        if not token.startswith("--") or key not in flags:
            raise InputError(
                f"{name}: unexpected {token!r}; flags: {' '.join('--' + f for f in flags)}"
            )
        if not eq:
            if not rest:
                raise InputError(f"{name}: --{key} needs a value")
            inline, rest = rest[0], rest[1:]
        args[key] = inline
    missing = [f for f in flags if f not in args]
    if missing:
        raise InputError(f"{name}: --{missing[0]} is required")
    return Chained(name, args)


def parse_call(functions: tuple[FunctionSpec, ...], argv: list[str]) -> Call:
    """The call ``argv`` asks for (``argv[0]`` is the function), or InputError saying why not."""
    by_command = {f.command: f for f in functions}
    if not argv or argv[0] not in by_command:
        given = repr(argv[0]) if argv else "none"
        raise InputError(f"unknown function {given}; functions: {', '.join(by_command)}")
    spec = by_command[argv[0]]
    values: dict[str, list[str] | str | bool] = {}
    rest = argv[1:]
    chain = None
    while rest:
        token, *rest = rest
        if token.startswith("--"):
            arg, raw, rest = _flag_value(spec, token, rest)
            _store(values, arg, raw)
        else:
            chain = _chain(spec, [token, *rest])
            break
    missing = [f"--{a.flag}" for a in spec.args if a.required and a.python_name not in values]
    if missing:
        raise InputError(f"{spec.command}: required flag(s) not set: {' '.join(missing)}")
    for arg in spec.args:
        value = values.get(arg.python_name)
        if arg.enum_type is not None and value is not None:
            names = [m.name for m in arg.enum_type]
            for item in value if isinstance(value, list) else [value]:
                if item not in names:
                    raise InputError(f"--{arg.flag}: {item!r} is not one of {', '.join(names)}")
    return Call(spec, values, chain)


def render_functions(functions: tuple[FunctionSpec, ...], prog: str) -> str:
    """What `dagger functions` lists: each function and the first line of its doc."""
    width = max(len(f.command) for f in functions)
    lines = [f"Usage: {prog} <function> [flags] [chained call]", "", "Functions:"]
    lines += [f"  {f.command.ljust(width)}  {_first_line(f.doc)}" for f in functions]
    lines += [
        "",
        f"`{prog} <function> --help` lists a function's flags.",
        "A call that printed its result is answered again from the call cache, as Dagger's",
        "function cache answers `dagger call`, for the same module and arguments within the",
        "function's cache policy (never for lock and publish-all); IMAGE_FAMILY_CALL_CACHE=off",
        "or another directory (default ~/.cache/image-family/calls).",
    ]
    return "\n".join(lines) + "\n"


def render_function_help(spec: FunctionSpec, prog: str) -> str:
    """What `dagger call <function> --help` shows: the doc and every flag with type/default."""
    lines = [" ".join(spec.doc.split()), "", f"Usage: {prog} {spec.command} [flags]"]
    chains = sorted(n for n, (_, kinds) in CHAINS.items() if spec.returns in kinds)
    if chains:
        lines[-1] += f" [{' | '.join(chains)}]"
    lines += ["", "Arguments:"]
    for arg in spec.args:
        extra = []
        if arg.required:
            extra.append("required")
        if arg.default_path is not None:
            extra.append(f'default path: "{arg.default_path}"')
        elif arg.default not in (None, ""):
            extra.append(f"default: {arg.default!r}")
        if arg.enum_type is not None:
            extra.append("one of " + ", ".join(m.name for m in arg.enum_type))
        note = f" ({'; '.join(extra)})" if extra else ""
        lines.append(f"  --{arg.flag} {arg.type_name}  {' '.join(arg.doc.split())}{note}")
    return "\n".join(lines) + "\n"


def _first_line(text: str) -> str:
    """The first sentence (a period followed by a capital letter ends it; "e.g." does not)."""
    return re.split(r"(?<=\.)\s+(?=[A-Z])", " ".join(text.split()))[0].rstrip(".")
