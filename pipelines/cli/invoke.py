"""Run a parsed call in a Dagger session: arguments become Dagger values the way the Dagger CLI
makes them (``dag.address(...)``: host paths, ``env:``/``file:``/``cmd:`` secrets, image
addresses), contextual directories come from ``DefaultPath`` with ``Ignore``, then the result
is printed or handed to the chained call.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import dagger
from dagger import dag

from pipelines.cli.call_cache import CallCache, Served, cacheable, call_key
from pipelines.cli.parse import Call
from pipelines.cli.signatures import ArgSpec
from pipelines.errors import InputError

MODULE_FILE = "dagger.json"


def find_module_root(start: Path) -> Path:
    """The nearest directory at or above ``start`` with a dagger.json (as ``dagger call``)."""
    for directory in (start.resolve(), *start.resolve().parents):
        if (directory / MODULE_FILE).is_file():
            return directory
    raise InputError(f"no {MODULE_FILE} in {start} or above: run from the module's directory")


def context_root(module_root: Path) -> Path:
    """The module's context directory: its git repository root, or the module root."""
    for directory in (module_root, *module_root.parents):
        if (directory / ".git").exists():
            return directory
    return module_root


def default_path(arg: ArgSpec, module_root: Path) -> Path:
    """Where a ``DefaultPath`` points: absolute ones from the context root, others from the
    module's root directory."""
    assert arg.default_path is not None
    if arg.default_path.startswith("/"):
        return context_root(module_root) / arg.default_path.lstrip("/")
    return module_root / arg.default_path


def _object(
    arg: ArgSpec, address: str
) -> dagger.Directory | dagger.File | dagger.Secret | dagger.Container:
    where = dag.address(address)
    if arg.kind == "Directory":
        return where.directory(exclude=list(arg.ignore))
    if arg.kind == "File":
        return where.file()
    if arg.kind == "Secret":
        return where.secret()
    if arg.kind == "Container":
        return where.container()
    raise AssertionError(arg.kind)


def _value(arg: ArgSpec, raw: list[str] | str | bool) -> object:
    items = raw if isinstance(raw, list) else [raw]
    if arg.kind in ("Directory", "File", "Secret", "Container"):
        converted: list[object] = [_object(arg, str(item)) for item in items]
    elif arg.enum_type is not None:
        converted = [arg.enum_type[str(item)] for item in items]
    elif arg.kind == "Int":
        converted = [_number(arg, int, item) for item in items]
    elif arg.kind == "Float":
        converted = [_number(arg, float, item) for item in items]
    else:
        converted = list(items)
    return converted if arg.is_list else converted[0]


def _number(arg: ArgSpec, kind: type[int] | type[float], raw: object) -> int | float:
    try:
        return kind(str(raw))
    except ValueError:
        raise InputError(f"--{arg.flag}: {raw!r} is not a {arg.kind}") from None


def arguments(call: Call, module_root: Path) -> dict[str, Any]:
    """Keyword arguments of the Python function: given flags converted, contextual directories
    loaded from their default paths, everything else left to the function's defaults."""
    kwargs: dict[str, Any] = {}
    for arg in call.function.args:
        if arg.python_name in call.values:
            kwargs[arg.python_name] = _value(arg, call.values[arg.python_name])
        elif arg.default_path is not None:
            kwargs[arg.python_name] = _object(arg, str(default_path(arg, module_root)))
    return kwargs


async def run_call(
    main_object: object, call: Call, module_root: Path, cache: CallCache | None = None
) -> Served:
    """Invoke the call's function on ``main_object`` and return what to print; through
    ``cache`` when the call is one Dagger's function cache would keep (:mod:`.call_cache`)."""
    kwargs = arguments(call, module_root)
    if cache is None or not cacheable(call):
        return Served(await _invoke(main_object, call, kwargs))
    key = await call_key(call, kwargs, await dag.version())
    return await cache.serve(call, key, partial(_invoke, main_object, call, kwargs))


async def _invoke(main_object: object, call: Call, kwargs: dict[str, Any]) -> str:
    method = getattr(main_object, call.function.python_name)
    result = await method(**kwargs)
    chain = call.chain
    if chain is None:
        return await _show(result)
    if chain.name == "export":
        path = str(Path(chain.args["path"]).resolve())
        if isinstance(result, dagger.Container):
            return str(await result.export(path))
        return str(await result.export(path))
    if chain.name == "publish":
        return str(await result.publish(chain.args["address"]))
    if chain.name == "entries":
        return "\n".join(await result.entries())
    if chain.name == "contents":
        return str(await result.contents())
    if chain.name == "stdout":
        return str(await result.stdout())
    raise AssertionError(chain.name)


async def _show(result: object) -> str:
    if isinstance(result, str):
        return result
    if isinstance(result, dagger.Directory):
        return "\n".join(await result.entries())
    if isinstance(result, dagger.File):
        return f"{await result.name()} ({await result.size()} bytes)"
    if isinstance(result, dagger.Container):
        await result.sync()
        return f"Container evaluated ({await result.platform()}); chain export --path or publish"
    return str(result)
