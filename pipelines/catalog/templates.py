"""The small template language used in catalog strings.

* ``{name}`` is replaced by the value of placeholder ``name``; an unknown name is
  an error that lists the known ones.
* ``{{`` and ``}}`` stand for literal braces.
* Anything else is literal: ``${HOME}`` (a ``{`` right after ``$``, as in shell
  code) and regular-expression repetitions such as ``\\d{2,3}`` are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

_TOKEN = re.compile(r"\{\{|\}\}|(?<!\$)\{([A-Za-z_][A-Za-z0-9_]*)\}")


class TemplateError(ValueError):
    """A template uses a placeholder that has no value."""

    def __init__(self, template: str, placeholder: str, known: Iterable[str]) -> None:
        self.template = template
        self.placeholder = placeholder
        self.known = tuple(sorted(known))
        super().__init__(
            f"unknown placeholder {{{placeholder}}} in {template!r}; known placeholders: "
            + (", ".join(f"{{{name}}}" for name in self.known) or "none")
            + " (write {{ and }} for literal braces)"
        )


def placeholders(template: str) -> list[str]:
    """The placeholder names used by ``template``, in order of appearance."""
    return [match[1] for match in _TOKEN.finditer(template) if match[1]]


def render(
    template: str,
    values: Mapping[str, str],
    *,
    escape: Callable[[str], str] | None = None,
) -> str:
    """Substitute ``values`` into ``template``.

    ``escape`` is applied to each substituted value (``re.escape`` for templates
    that are regular expressions).  Raises :class:`TemplateError` for an unknown
    placeholder.
    """

    def substitute(match: re.Match[str]) -> str:
        token = match[0]
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        name = match[1]
        if name not in values:
            raise TemplateError(template, name, values)
        value = values[name]
        return escape(value) if escape is not None else value

    return _TOKEN.sub(substitute, template)
