"""Variant parameters given by the caller as ``KEY=VALUE`` or ``VARIANT.KEY=VALUE``."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pipelines.catalog.variant import Variant
from pipelines.errors import InputError

_PARAM = re.compile(
    r"(?:(?P<variant>[a-z0-9][a-z0-9._-]*)\.)?(?P<key>[a-z][a-z0-9_]*)=(?P<value>.*)"
)
_FORMS = "expected KEY=VALUE or VARIANT.KEY=VALUE, e.g. release=bullseye"


@dataclass(frozen=True)
class ParamOverride:
    """One parameter value given by the caller; ``variant`` is None when unscoped."""

    variant: str | None
    key: str
    value: str
    text: str


def parse_params(texts: Sequence[str]) -> tuple[ParamOverride, ...]:
    """Parse ``KEY=VALUE`` / ``VARIANT.KEY=VALUE`` strings (syntax only)."""
    overrides = []
    for text in texts:
        match = _PARAM.fullmatch(text)
        if match is None:
            raise InputError(f"invalid parameter {text!r}: {_FORMS}")
        overrides.append(ParamOverride(match["variant"], match["key"], match["value"], text))
    return tuple(overrides)


def check_overrides(
    overrides: Sequence[ParamOverride],
    in_scope: Sequence[Variant],
    family_variants: Sequence[str],
) -> None:
    """Check every override applies to a variant being built (or one they build on).

    An unscoped ``KEY=VALUE`` must be declared by at least one of them; a scoped
    ``VARIANT.KEY=VALUE`` must name one of them and one of its parameters.
    """
    by_name = {variant.name: variant for variant in in_scope}
    for override in overrides:
        if override.variant is not None:
            if override.variant not in family_variants:
                raise InputError(
                    f"parameter {override.text!r} names unknown variant {override.variant!r}; "
                    f"known variants: {', '.join(family_variants)}"
                )
            variant = by_name.get(override.variant)
            if variant is None:
                raise InputError(
                    f"parameter {override.text!r} is for variant {override.variant!r}, "
                    f"which is not being built (building: {', '.join(by_name)})"
                )
            if override.key not in variant.parameters:
                raise InputError(
                    f"unknown parameter {override.key!r} for variant {variant.name!r}; "
                    f"known parameters: {_known(variant)}"
                )
        elif not any(override.key in variant.parameters for variant in in_scope):
            described = "; ".join(f"{v.name}: {_known(v)}" for v in in_scope)
            raise InputError(
                f"unknown parameter {override.key!r} (from {override.text!r}): no variant being "
                f"built declares it; known parameters by variant: {described}"
            )


def resolve_params(variant: Variant, overrides: Sequence[ParamOverride]) -> dict[str, str]:
    """The variant's parameter values: defaults, then unscoped, then scoped overrides.

    Within the same scope the last override wins.
    """
    values = dict(variant.parameters)
    for scoped in (False, True):
        for override in overrides:
            applies = override.variant == variant.name if scoped else override.variant is None
            if applies and override.key in values:
                values[override.key] = override.value
    return values


def _known(variant: Variant) -> str:
    return ", ".join(variant.parameters) or "none"


def describe(values: Mapping[str, str]) -> str:
    """``key=value, ...`` for messages."""
    return ", ".join(f"{key}={value}" for key, value in values.items()) or "no parameters"
