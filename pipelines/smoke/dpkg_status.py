"""What a Debian image has installed, from dpkg's records: ``/var/lib/dpkg/status`` (dpkg) or
one control file per package under ``/var/lib/dpkg/status.d`` (distroless images)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from pipelines.smoke.deb822 import paragraphs

STATUS_FILE = "/var/lib/dpkg/status"
STATUS_DIRECTORY = "/var/lib/dpkg/status.d"


@dataclass(frozen=True)
class InstalledPackage:
    """One installed binary package."""

    name: str
    version: str
    architecture: str


def installed_packages(records: Iterable[str]) -> list[InstalledPackage]:
    """The installed packages of dpkg records (status file or status.d control files): a
    paragraph with a ``Status`` counts only when it says ``installed`` (not removed packages
    whose configuration files remain); control files without one are installed by definition."""
    found = []
    for text in records:
        for record in paragraphs(text):
            if "Package" not in record or "Version" not in record:
                continue
            status = record.get("Status", "install ok installed").split()
            if status[-1:] != ["installed"]:
                continue
            architecture = record.get("Architecture", "")
            found.append(InstalledPackage(record["Package"], record["Version"], architecture))
    return found


def main_architecture(packages: Iterable[InstalledPackage]) -> str | None:
    """The Debian architecture most installed packages are built for (``all`` aside)."""
    counts = Counter(p.architecture for p in packages if p.architecture not in ("", "all"))
    return counts.most_common(1)[0][0] if counts else None
