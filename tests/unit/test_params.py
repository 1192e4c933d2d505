from __future__ import annotations

import pytest

from pipelines.catalog.params import ParamOverride, parse_params
from pipelines.errors import InputError


def test_parse_unscoped_and_scoped() -> None:
    assert parse_params(["release=bullseye", "falco-driver-loader-legacy.release=buster"]) == (
        ParamOverride(None, "release", "bullseye", "release=bullseye"),
        ParamOverride(
            "falco-driver-loader-legacy",
            "release",
            "buster",
            "falco-driver-loader-legacy.release=buster",
        ),
    )


def test_value_may_contain_equals_and_be_empty() -> None:
    assert parse_params(["opt=a=b"])[0].value == "a=b"
    assert parse_params(["opt="])[0].value == ""


@pytest.mark.parametrize("bad", ["release", "=x", "Release=x", "1key=x", "a b=c", ".release=x"])
def test_malformed_parameters(bad: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_params([bad])
    assert str(caught.value) == (
        f"invalid parameter {bad!r}: expected KEY=VALUE or VARIANT.KEY=VALUE, e.g. release=bullseye"
    )
