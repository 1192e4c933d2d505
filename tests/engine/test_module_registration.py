"""The module as the engine sees it: the SDK's own registration code, run against the engine.

`dagger functions` and `dagger call --help` list what the Python runtime registers: it runs
``dagger.mod.cli.app(register=True)`` (the runtime's ``runtime.py --register``) with the
module's environment, which writes the module's ID; the engine then serves its type
definitions. The same definitions must generate our command line (pipelines.cli), flag for flag.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import anyio
import dagger
import pytest
from dagger import dag

from pipelines import ImageFamily
from pipelines.cli.signatures import module_functions

pytestmark = [pytest.mark.engine, pytest.mark.usefixtures("engine")]

ROOT = Path(__file__).resolve().parents[2]
MODULE = json.loads((ROOT / "dagger.json").read_text())


@dataclass(frozen=True)
class ArgDef:
    """One argument as the engine registered it."""

    name: str
    kind: str  # e.g. STRING_KIND, or the object name (Directory, Secret...), [] prefix for lists
    optional: bool
    default_value: object
    default_path: str
    ignore: tuple[str, ...]
    description: str


@dataclass(frozen=True)
class FunctionDef:
    """One function as the engine registered it."""

    name: str
    description: str
    returns: str
    args: tuple[ArgDef, ...]


async def _kind(type_def: dagger.TypeDef) -> str:
    kind = await type_def.kind()
    if kind == dagger.TypeDefKind.LIST_KIND:
        return "[]" + await _kind(type_def.as_list().element_type_def())
    if kind == dagger.TypeDefKind.OBJECT_KIND:
        return await type_def.as_object().name()
    if kind == dagger.TypeDefKind.ENUM_KIND:
        return await type_def.as_enum().name()
    return str(kind.name)


async def _default(arg: dagger.FunctionArg) -> object:
    try:
        return json.loads(await arg.default_value())
    except dagger.InvalidQueryError:  # null: no default registered
        return None


async def _arg(arg: dagger.FunctionArg) -> ArgDef:
    type_def = arg.type_def()
    return ArgDef(
        name=await arg.name(),
        kind=await _kind(type_def),
        optional=await type_def.optional(),
        default_value=await _default(arg),
        default_path=await arg.default_path(),
        ignore=tuple(await arg.ignore()),
        description=await arg.description(),
    )


async def _function(function: dagger.Function) -> FunctionDef:
    args = [await _arg(a) for a in await function.args()]
    return FunctionDef(
        name=await function.name(),
        description=await function.description(),
        returns=await _kind(function.return_type()),
        args=tuple(args),
    )


@pytest.fixture(scope="module")
def module_id(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The module ID written by the SDK's registration entry point, as the runtime runs it."""
    out = tmp_path_factory.mktemp("register") / "module.json"
    env = {
        **os.environ,
        # what sdk/python/runtime sets (WithSource, ModuleTypesExp) for module "image-family"
        "DAGGER_MODULE": MODULE["name"],
        "DAGGER_DEFAULT_PYTHON_PACKAGE": MODULE["name"].replace("-", "_"),
        "DAGGER_MAIN_OBJECT": "ImageFamily",
        "DAGGER_MODULE_FILE": str(out),
    }
    runtime = "import sys; from dagger.mod.cli import app; sys.exit(app(None, True))"
    done = subprocess.run(
        [os.environ["_EXPERIMENTAL_DAGGER_CLI_BIN"], "run", "--progress=plain",
         sys.executable, "-c", runtime],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return str(json.loads(out.read_text()))


@pytest.fixture(scope="module")
async def registered(module_id: str) -> dict[str, FunctionDef]:
    """The main object's functions as the engine serves them, by (camelCase) name."""
    module = dag.load_module_from_id(dagger.ModuleID(module_id))
    [main] = [t.as_object() for t in await module.objects()]
    assert await main.name() == "ImageFamily"
    functions: dict[str, FunctionDef] = {}

    async def one(function: dagger.Function) -> None:
        loaded = await _function(function)
        functions[loaded.name] = loaded

    async with anyio.create_task_group() as group:
        for function in await main.functions():
            group.start_soon(one, function)
    return functions


# The engine's scalar kinds as `dagger call --help` (and pipelines.cli) name them.
SCALARS = {"STRING_KIND": "String", "INTEGER_KIND": "Int", "FLOAT_KIND": "Float",
           "BOOLEAN_KIND": "Boolean"}  # fmt: skip


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


async def test_every_function_is_registered_with_docs(
    registered: dict[str, FunctionDef], module_id: str
) -> None:
    assert set(registered) == {
        "build", "buildAll", "exportAll", "lock", "plan", "publishAll", "test"
    }  # fmt: skip
    module = dag.load_module_from_id(dagger.ModuleID(module_id))
    assert "family of container images" in await module.description()
    for function in registered.values():
        assert function.description.strip(), f"{function.name} has no doc (its --help)"
        for arg in function.args:
            assert arg.description.strip(), f"{function.name} --{arg.name} has no doc"


async def test_build_all_arguments_as_dagger_call_sees_them(
    registered: dict[str, FunctionDef],
) -> None:
    build_all = registered["buildAll"]
    assert build_all.returns == "STRING_KIND"
    args = {a.name: a for a in build_all.args}
    assert list(args) == [
        "catalog", "version", "variants", "platforms", "params", "mirrors", "artifacts",
        "toolsImage", "gzipSizes",
    ]  # fmt: skip
    catalog = args["catalog"]
    # contextual: `dagger call build-all` without --catalog loads images/ from the module (its
    # only family, images/falco, is built)
    assert (catalog.kind, catalog.default_path) == ("Directory", "images")
    assert set(catalog.ignore) == {"**/__pycache__", "schema"}
    assert (args["version"].kind, args["version"].default_value) == ("STRING_KIND", "")
    assert args["variants"].kind == "[]STRING_KIND" and args["variants"].optional
    assert args["artifacts"].kind == "[]File"
    assert args["toolsImage"].default_value == "debian:12-slim"
    assert (args["gzipSizes"].kind, args["gzipSizes"].default_value) == ("BOOLEAN_KIND", False)


async def test_publish_all_takes_secrets_and_requires_a_registry(
    registered: dict[str, FunctionDef], module_id: str
) -> None:
    args = {a.name: a for a in registered["publishAll"].args}
    registry = args["registry"]
    assert not registry.optional and registry.default_value is None  # required flag
    for secret in ("password", "signingKey", "signingPassword"):
        assert (args[secret].kind, args[secret].optional) == ("Secret", True)
    # the gate is an enum: `dagger call publish-all --help` lists its members
    assert (args["failOn"].kind, args["failOn"].default_value) == ("ScanGate", "CRITICAL")
    module = dag.load_module_from_id(dagger.ModuleID(module_id))
    enums = {await e.as_enum().name(): e.as_enum() for e in await module.enums()}
    assert set(enums) == {"ScanGate", "MoveFloatingTags"}
    members = {await m.name(): await m.description() for m in await enums["ScanGate"].members()}
    assert list(members) == ["LOW", "MEDIUM", "HIGH", "CRITICAL", "NONE"]
    assert all(members.values()), members
    moves = [await m.name() for m in await enums["MoveFloatingTags"].members()]
    assert moves == ["ALWAYS", "IF_NEWER", "NEVER"]
    assert (args["moveFloatingTags"].kind, args["moveFloatingTags"].default_value) == (
        "MoveFloatingTags",
        "IF_NEWER",
    )
    assert registered["exportAll"].returns == "Directory"
    assert registered["build"].returns == "Container"
    assert registered["lock"].returns == "Directory"


async def test_command_line_is_generated_from_the_registered_signatures(
    registered: dict[str, FunctionDef],
) -> None:
    cli = {spec.command: spec for spec in module_functions(ImageFamily)}
    assert set(cli) == {_kebab(name) for name in registered}
    for name, function in registered.items():
        spec = cli[_kebab(name)]
        assert " ".join(spec.doc.split()) == " ".join(function.description.split())
        assert spec.returns == SCALARS.get(function.returns, function.returns)
        assert [a.flag for a in spec.args] == [_kebab(a.name) for a in function.args]
        for arg, registered_arg in zip(spec.args, function.args, strict=True):
            where = f"{spec.command} --{arg.flag}"
            kind = registered_arg.kind.removeprefix("[]")
            assert arg.is_list == registered_arg.kind.startswith("[]"), where
            assert arg.kind == SCALARS.get(kind, kind), where
            assert arg.default == registered_arg.default_value, where
            assert (arg.default_path or "") == registered_arg.default_path, where
            assert arg.ignore == registered_arg.ignore, where
            assert arg.doc == registered_arg.description, where
            required = not registered_arg.optional and registered_arg.default_value is None
            assert arg.required == (required and not registered_arg.default_path), where
