from __future__ import annotations

import re

import pytest

from pipelines.catalog.templates import TemplateError, placeholders, render


def test_substitution() -> None:
    assert render("falco-{version}-{arch}.tar.gz", {"version": "1.0", "arch": "x86_64"}) == (
        "falco-1.0-x86_64.tar.gz"
    )


def test_placeholders_in_order() -> None:
    assert placeholders("{a}-{b}-{a} ${c} {{d}} x{2,3}") == ["a", "b", "a"]


def test_literal_braces_shell_variables_and_regex_quantifiers() -> None:
    assert render("{{version}}", {}) == "{version}"
    assert render("echo ${HOME} $HOME", {}) == "echo ${HOME} $HOME"
    assert render(r"\d{2,3} a{2}", {}) == r"\d{2,3} a{2}"


def test_unknown_placeholder_lists_the_known_ones() -> None:
    with pytest.raises(TemplateError) as caught:
        render("{verison}", {"version": "1", "arch": "x"})
    assert str(caught.value) == (
        "unknown placeholder {verison} in '{verison}'; known placeholders: {arch}, {version} "
        "(write {{ and }} for literal braces)"
    )
    assert caught.value.placeholder == "verison"


def test_escape_is_applied_to_values_only() -> None:
    pattern = render("^Falco version: {version}$", {"version": "0.44.0+abc"}, escape=re.escape)
    assert pattern == r"^Falco version: 0\.44\.0\+abc$"
    assert re.search(pattern, "Falco version: 0.44.0+abc")
    assert not re.search(pattern, "Falco version: 0x44y0abc")
