from __future__ import annotations

import pytest

from pipelines.catalog.loader import LoadedFamily
from pipelines.catalog.render import RenderError, placeholder_values, render_variant, variant_tags
from pipelines.catalog.variant import Variant
from pipelines.versions import parse_version


def make_variant(**changes: object) -> Variant:
    data: dict[str, object] = {
        "name": "demo",
        "description": "uses {braces} literally",
        "repository": "demo",
        "tags": ["{version}-{flavor}", "latest-{flavor}"],
        "parameters": {"flavor": "slim"},
        "base": {"image": "debian:{flavor}"},
        "files": [{"source": "files/{x}.yaml", "target": "/etc/{x}.yaml"}],
        "image": {"env": {"V": "{version}", "HOME": "${HOME}"}, "cmd": ["run", "{flavor}"]},
        "tests": {
            "commands": [
                {
                    "name": "{version} check",
                    "command": ["echo", "{version}"],
                    "expected_output": ["^{version}$"],
                }
            ]
        },
    }
    data.update(changes)
    return Variant.model_validate(data)


def test_placeholder_values(falco: LoadedFamily) -> None:
    values = placeholder_values(falco.family, parse_version("0.44.1-rc2+g1"), {"release": "x"})
    assert values == {
        "version": "0.44.1-rc2+g1",
        "raw_version": "0.44.1-rc2+g1",
        "major": "0",
        "minor": "44",
        "patch": "1",
        "falcoctl_version": "0.13.0",  # from [series."0.44"]
        "tarball_bucket": "bin-dev",
        "deb_bucket": "deb-dev",
        **{f"{name}_version": a.version for name, a in falco.family.artifacts.items() if a.version},
        "release": "x",
    }


def test_render_variant(falco: LoadedFamily) -> None:
    variant = make_variant()
    values = placeholder_values(falco.family, parse_version("1.0.0+b"), {"flavor": "slim"})
    rendered = render_variant(variant, values)
    assert rendered.description == "uses {braces} literally"
    assert rendered.tags == variant.tags
    assert rendered.files == variant.files
    assert rendered.base.image == "debian:slim"
    assert rendered.image.env == {"V": "1.0.0+b", "HOME": "${HOME}"}
    assert rendered.image.cmd == ["run", "slim"]
    command = rendered.tests.commands[0]
    assert command.name == "1.0.0+b check"
    assert command.command == ["echo", "1.0.0+b"]
    assert command.expected_output == [r"^1\.0\.0\+b$"]


def test_render_problems_name_the_fields(falco: LoadedFamily) -> None:
    variant = make_variant(image={"labels": {"a": "{nope}"}})
    values = placeholder_values(falco.family, parse_version("1.0.0"), {"flavor": "slim"})
    with pytest.raises(RenderError) as caught:
        render_variant(variant, values)
    assert caught.value.problems[0][0] == "image.labels.a"
    assert "unknown placeholder {nope}" in caught.value.problems[0][1]
    bad_flavor = placeholder_values(falco.family, parse_version("1.0.0"), {"flavor": "A B"})
    with pytest.raises(RenderError) as caught:
        render_variant(make_variant(), bad_flavor)
    assert caught.value.problems == [("base.image", "'debian:A B' is not a valid image reference")]


def test_variant_tags(falco: LoadedFamily) -> None:
    variant = make_variant()
    final = parse_version("1.0.0")
    values = placeholder_values(falco.family, final, {"flavor": "slim"})
    assert variant_tags(variant, final, values) == ("1.0.0-slim", "latest-slim")
    pre = parse_version("1.0.0-rc1+b")
    assert variant_tags(
        variant, pre, placeholder_values(falco.family, pre, {"flavor": "slim"})
    ) == ("1.0.0-rc1-b-slim",)
    bad = placeholder_values(falco.family, final, {"flavor": "a:b"})
    with pytest.raises(RenderError) as caught:
        variant_tags(variant, final, bad)
    assert [field for field, _ in caught.value.problems] == ["tags[0]", "tags[1]"]
    assert "invalid tag '1.0.0-a:b'" in caught.value.problems[0][1]
