"""The `dagger call` command line, parsed against the module's own signatures (no engine)."""

from __future__ import annotations

import pytest

from pipelines import ImageFamily
from pipelines.cli.parse import (
    parse_call,
    render_function_help,
    render_functions,
    split_list,
)
from pipelines.cli.signatures import module_functions
from pipelines.errors import InputError

FUNCTIONS = module_functions(ImageFamily)


def test_every_function_has_a_command_and_documented_flags() -> None:
    commands = [f.command for f in FUNCTIONS]
    assert commands == ["build", "build-all", "export-all", "lock", "plan", "publish-all", "test"]
    for function in FUNCTIONS:
        assert function.doc.strip(), function.command
        assert all(arg.doc.strip() for arg in function.args), function.command


def test_list_flags_take_csv_and_repeat() -> None:
    call = parse_call(
        FUNCTIONS,
        ["build-all", "--version", "0.44.0", "--variants", "falco,falco-debian",
         "--variants=falco-driver-loader", "--platforms", "linux/arm64",
         "--params", '"release=bullseye"'],
    )  # fmt: skip
    assert call.function.python_name == "build_all"
    assert call.values == {
        "version": "0.44.0",
        "variants": ["falco", "falco-debian", "falco-driver-loader"],
        "platforms": ["linux/arm64"],
        "params": ["release=bullseye"],
    }
    assert call.chain is None


def test_split_list_is_pflag_csv() -> None:
    assert split_list("a, b,c") == ["a", "b", "c"]
    assert split_list("'x=1,2'") == ["x=1", "2"]  # quotes are removed before CSV, as pflag does
    assert split_list("") == []


def test_object_results_chain_one_call() -> None:
    call = parse_call(FUNCTIONS, ["export-all", "--version", "1.0.0", "export", "--path", "out"])
    assert call.chain is not None
    assert (call.chain.name, call.chain.args) == ("export", {"path": "out"})
    lock = parse_call(FUNCTIONS, ["lock", "export", "--path=images/falco/artifacts.lock.toml"])
    assert lock.chain is not None and lock.chain.args["path"].endswith("lock.toml")
    build = parse_call(
        FUNCTIONS, ["build", "--variant", "falco", "publish", "--address", "r/falco:x"]
    )
    assert build.chain is not None and build.chain.name == "publish"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bulid-all"], "unknown function 'bulid-all'; functions: build, build-all"),
        (["build-all", "--variant", "x"], "unknown flag --variant; valid flags: --catalog"),
        (["build-all", "--version"], "flag --version needs a value (String)"),
        (["build-all", "entries"], "build-all returns String: 'entries' cannot follow it"),
        (["export-all", "publish", "--address", "x"], "valid: entries, export"),
        (["export-all", "export"], "export: --path is required"),
        (["publish-all", "--version", "1.0.0"], "required flag(s) not set: --registry"),
        (["test", "--variant", "falco"], "required flag(s) not set: --container"),
        (
            ["publish-all", "--registry", "r", "--fail-on", "SEVERE"],
            "--fail-on: 'SEVERE' is not one of LOW, MEDIUM, HIGH, CRITICAL, NONE",
        ),
    ],
)
def test_mistakes_are_named_before_any_engine_work(argv: list[str], message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_call(FUNCTIONS, argv)
    assert message in str(caught.value)


def test_secrets_and_paths_stay_addresses_until_the_session() -> None:
    call = parse_call(
        FUNCTIONS,
        ["publish-all", "--registry", "ghcr.io", "--password", "env:REGISTRY_TOKEN",
         "--signing-key", "file:cosign.key", "--fail-on", "HIGH", "--artifacts", "a.deb,b.tgz"],
    )  # fmt: skip
    assert call.values["password"] == "env:REGISTRY_TOKEN"
    assert call.values["signing_key"] == "file:cosign.key"
    assert call.values["fail_on"] == "HIGH"
    assert call.values["artifacts"] == ["a.deb", "b.tgz"]


def test_help_lists_functions_and_flags_like_dagger() -> None:
    listing = render_functions(FUNCTIONS, "scripts/call")
    assert "  build-all    Build every variant for every platform concurrently" in listing
    build_all = next(f for f in FUNCTIONS if f.command == "build-all")
    text = render_function_help(build_all, "scripts/call")
    assert "--catalog Directory  The image family's catalog directory" in text
    assert 'default path: "images"' in text
    assert "--variants []String" in text
    assert "default: 'debian:12-slim'" in text
    publish = next(f for f in FUNCTIONS if f.command == "publish-all")
    assert "--registry String" in render_function_help(publish, "x")
    assert "one of LOW, MEDIUM, HIGH, CRITICAL, NONE" in render_function_help(publish, "x")
