"""Where a Debian image gets its security updates: the release's security suite, or the security
entries of the image's own apt sources (one-line ``.list`` and deb822 ``.sources`` formats)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipelines.smoke.deb822 import paragraphs


@dataclass(frozen=True)
class AptSource:
    """One ``deb`` entry: options (``[...]`` text, without the brackets), URI, suite, components."""

    uri: str
    suite: str
    components: tuple[str, ...]
    options: str = ""

    def line(self, architecture: str) -> str:
        """The one-line entry for ``architecture`` only (an existing ``arch=`` is replaced)."""
        options = [o for o in self.options.split() if not o.startswith("arch=")]
        options.insert(0, f"arch={architecture}")
        return f"deb [{' '.join(options)}] {self.uri} {self.suite} {' '.join(self.components)}"


_ONE_LINE = re.compile(
    r"deb\s+(?:\[(?P<options>[^\]]*)\]\s+)?(?P<uri>\S+)\s+(?P<suite>\S+)(?P<components>.*)"
)


def one_line_sources(text: str) -> list[AptSource]:
    """The ``deb`` entries of a sources.list text (``deb-src`` and comments ignored)."""
    found = []
    for line in text.splitlines():
        match = _ONE_LINE.fullmatch(line.split("#", 1)[0].strip())
        if match:
            components = tuple(match["components"].split())
            options = match["options"] or ""
            found.append(AptSource(match["uri"], match["suite"], components, options))
    return found


def deb822_sources(text: str) -> list[AptSource]:
    """The ``deb`` entries of a ``.sources`` file (one per URI and suite)."""
    found = []
    for record in paragraphs(text):
        if "deb" not in record.get("Types", "").split() or record.get("Enabled", "yes") == "no":
            continue
        options = " ".join(
            f"{name.lower()}={value.split()[0]}"
            for name, value in record.items()
            if name in ("Check-Valid-Until", "Trusted") and value
        )
        for uri in record.get("URIs", "").split():
            for suite in record.get("Suites", "").split():
                components = tuple(record.get("Components", "").split())
                found.append(AptSource(uri, suite, components, options))
    return found


def is_security_suite(suite: str) -> bool:
    """True for a security suite: ``<codename>-security``, or ``<codename>/updates`` before
    bullseye."""
    return suite.endswith("-security") or suite.endswith("/updates")


def codename(os_release: str) -> str | None:
    """VERSION_CODENAME of an /etc/os-release text (or the name in parentheses in VERSION)."""
    values = {}
    for line in os_release.splitlines():
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip("\"'")
    if values.get("VERSION_CODENAME"):
        return values["VERSION_CODENAME"]
    match = re.search(r"\((\w+)\)", values.get("VERSION", ""))
    return match[1] if match else None
