"""Base model and reusable field types of the catalog models."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


class CatalogModel(BaseModel):
    """Base of every catalog model: unknown keys are errors, values are not coerced."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def _non_empty(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _absolute_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"{value!r} must be an absolute path (start with '/')")
    if ".." in value.split("/"):
        raise ValueError(f"{value!r} must not contain '..'")
    return value


def _http_url(value: str) -> str:
    if not re.match(r"https?://[^/\s]+", value) or any(char.isspace() for char in value):
        raise ValueError(f"{value!r} must be an http:// or https:// URL without spaces")
    return value


def _env_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        raise ValueError(
            f"{value!r} is not a valid environment variable name "
            "(letters, digits and '_', not starting with a digit)"
        )
    return value


def _identifier(value: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", value):
        raise ValueError(
            f"{value!r} is not a valid name (lowercase letters, digits and '_', "
            "starting with a letter)"
        )
    return value


def _slug(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9]+(?:[._-][a-z0-9]+)*", value):
        raise ValueError(
            f"{value!r} is not a valid name (lowercase letters and digits, "
            "separated by single '-', '_' or '.')"
        )
    return value


NonEmptyStr = Annotated[str, AfterValidator(_non_empty)]
"""A string with at least one non-blank character."""

AbsolutePath = Annotated[str, AfterValidator(_absolute_path)]
"""An absolute path inside the image (globs allowed where documented)."""

HttpUrl = Annotated[str, AfterValidator(_http_url)]
"""An http(s) URL, possibly containing ``{placeholders}``; kept exactly as written."""

EnvName = Annotated[str, AfterValidator(_env_name)]
"""An environment variable name."""

Identifier = Annotated[str, AfterValidator(_identifier)]
"""A lowercase identifier (parameter names)."""

Slug = Annotated[str, AfterValidator(_slug)]
"""A lowercase name made of letters, digits, ``-``, ``_`` and ``.`` (family, variant names)."""

FileMode = Annotated[int, Field(ge=0, le=0o7777)]
"""A Unix permission mode; write it in octal in TOML (``0o755``)."""
