"""Errors raised by the pipeline's pure-logic layer.

Every error a user can cause derives from :class:`PipelineError`, so callers can
catch one type and print ``str(error)``: the messages are written to be read by a
person and say what was wrong and what is allowed.
"""

from __future__ import annotations

from pathlib import Path


class PipelineError(Exception):
    """Base class of every error the pipeline reports to its user."""


class InputError(PipelineError):
    """A value passed by the caller (version, platform, parameter, mirror...) is invalid."""


class CatalogError(PipelineError):
    """A catalog file (``family.toml``, ``variant.toml``, lock file) is invalid.

    ``str(error)`` reads ``<file>: <field>: <message>`` (the field part is left out
    when the problem is not tied to one field).  When a file has several problems,
    the first one is carried by ``file``/``field``/``message`` and the others by
    ``others``; ``str`` lists them all, one per line.
    """

    def __init__(
        self,
        file: Path | str | None,
        field: str | None,
        message: str,
        others: tuple[CatalogError, ...] = (),
    ) -> None:
        self.file = display_path(file) if isinstance(file, Path) else file
        self.field = field or None
        self.message = message
        self.others = others
        super().__init__(str(self))

    def line(self) -> str:
        """This problem alone, as one line."""
        parts = [part for part in (self.file, self.field) if part]
        return ": ".join([*parts, self.message])

    def __str__(self) -> str:
        return "\n".join([self.line(), *(other.line() for other in self.others)])

    @classmethod
    def from_problems(
        cls, file: Path | str | None, problems: list[tuple[str, str]]
    ) -> CatalogError:
        """One error for a non-empty list of ``(field, message)`` problems of one file."""
        errors = [cls(file, field, message) for field, message in problems]
        first, *rest = errors
        return cls(file, first.field, first.message, tuple(rest))


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when it is inside it, else as given."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
