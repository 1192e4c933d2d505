"""Shell fragments that choose a layer's apt sources and extra packages by the base's Debian
release, the same way at lock time (on a copy of the base's root at ``$ROOT``) and in the
image (``ROOT`` empty)."""

from __future__ import annotations

import shlex

from pipelines.catalog.variant import Install


def sources_script(install: Install, into: str) -> str:
    """Shell that writes the layer's apt sources for the codename in ``$codename`` to ``into``
    and returns 0, or returns 1 when the layer has none for that release."""
    cases = "".join(
        f"  {shlex.quote(codename)}) printf '%s\\n' {shlex.quote(text)} > {into};;\n"
        for codename, text in install.apt_sources.items()
    )
    return f'layer_sources() {{\ncase "$codename" in\n{cases}  *) return 1;;\nesac\n}}\n'


def packages_for_script(install: Install) -> str:
    """Shell that appends ``apt_packages_for`` of ``$codename`` and ``$codename/$arch`` to
    ``$more``."""
    cases = "".join(
        f'  {shlex.quote(key)}) more="$more {" ".join(shlex.quote(p) for p in packages)}";;\n'
        for key, packages in install.apt_packages_for.items()
    )
    if not cases:
        return ""
    return f'for key in "$codename" "$codename/$arch"; do\ncase "$key" in\n{cases}esac\ndone\n'
