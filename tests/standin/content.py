"""The file tree of a Falco release: programs, configuration and driver sources.

The same tree goes into the tarball (under ``falco-{V}-{arch}/``) and the .deb
(under ``/``). All text here is written for the stand-in, not copied from Falco.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

DRIVER_VERSION = "8.1.0+driver"
DRIVER_SOURCE_DIR = f"usr/src/falco-{DRIVER_VERSION}"

FALCO_YAML = """\
# Falco stand-in configuration (test fixture; not Falco's shipped file).
config_files:
  - /etc/falco/config.d
rules_files:
  - /etc/falco/falco_rules.yaml
  - /etc/falco/falco_rules.local.yaml
  - /etc/falco/rules.d
engine:
  kind: modern_ebpf
load_plugins: []
plugins:
  - name: container
    library_path: libcontainer.so
time_format_iso_8601: false
json_output: false
log_stderr: true
log_syslog: true
log_level: info
priority: debug
stdout_output:
  enabled: true
webserver:
  enabled: false
  listen_port: 8765
"""

FALCO_RULES_YAML = """\
# Falco stand-in rules (test fixture).
- required_engine_version: 0.50.0

- macro: standin_spawned_process
  condition: (evt.type in (execve, execveat) and evt.dir=<)

- rule: Stand-in Shell Spawned In Container
  desc: Detect a shell started inside a container (stand-in rule for tests).
  condition: standin_spawned_process and container.id != host and proc.name in (sh, bash)
  output: Shell spawned in a container (user=%user.name command=%proc.cmdline)
  priority: NOTICE
  tags: [standin, container, shell]
"""

FALCOCTL_YAML = f"""\
# falcoctl stand-in configuration (test fixture).
artifact:
  follow:
    every: 6h0m0s
    refs:
      - falco-rules:4
  install:
    refs:
      - falco-rules:4
    resolveDeps: true
    rulesfilesDir: /etc/falco
    pluginsDir: /usr/share/falco/plugins
driver:
  type:
    - modern_ebpf
    - kmod
  name: falco
  repos:
    - https://download.falco.org/driver
  version: {DRIVER_VERSION}
  hostroot: /
indexes:
  - name: falcosecurity
    url: https://falcosecurity.github.io/falcoctl/index.yaml
"""

DKMS_CONF = f"""\
# Stand-in DKMS description of the Falco kernel module (never built by tests).
PACKAGE_NAME="falco"
PACKAGE_VERSION="{DRIVER_VERSION}"
BUILT_MODULE_NAME[0]="falco"
DEST_MODULE_LOCATION[0]="/kernel/extra"
AUTOINSTALL="yes"
"""

DRIVER_MAKEFILE = """\
# Stand-in kernel module Makefile (the real driver sources are not shipped here).
obj-m += falco.o
falco-y := main.o

all:
\t@echo "falco stand-in driver sources: nothing to build"

clean:
\t@true
"""

DRIVER_CONFIG_H = f"""\
/* Stand-in driver configuration header. */
#pragma once
#define DRIVER_VERSION "{DRIVER_VERSION}"
#define DRIVER_NAME "falco"
"""

# Files dpkg should treat as configuration (kept on upgrade if modified).
CONFFILES = (
    "etc/falco/falco.yaml",
    "etc/falco/falco_rules.yaml",
    "etc/falcoctl/falcoctl.yaml",
)


@dataclass(frozen=True)
class Entry:
    """One member of a file tree: a regular file (``data`` set) or a directory."""

    path: str  # relative POSIX path without leading or trailing slash
    data: bytes | None  # None for a directory
    mode: int

    @property
    def is_dir(self) -> bool:
        """True for a directory entry."""
        return self.data is None


def falco_tree(falco: bytes, falcoctl: bytes, plugin: bytes) -> list[Entry]:
    """Return the complete, sorted Falco install tree (directories included)."""
    files = [
        Entry("usr/bin/falco", falco, 0o755),
        Entry("usr/bin/falcoctl", falcoctl, 0o755),
        Entry("etc/falco/falco.yaml", FALCO_YAML.encode(), 0o644),
        Entry("etc/falco/falco_rules.yaml", FALCO_RULES_YAML.encode(), 0o644),
        Entry("etc/falco/config.d", None, 0o755),
        Entry("etc/falcoctl/falcoctl.yaml", FALCOCTL_YAML.encode(), 0o644),
        Entry("usr/share/falco/plugins/libcontainer.so", plugin, 0o755),
        Entry(f"{DRIVER_SOURCE_DIR}/dkms.conf", DKMS_CONF.encode(), 0o644),
        Entry(f"{DRIVER_SOURCE_DIR}/Makefile", DRIVER_MAKEFILE.encode(), 0o644),
        Entry(f"{DRIVER_SOURCE_DIR}/driver_config.h", DRIVER_CONFIG_H.encode(), 0o644),
    ]
    return with_parent_dirs(files)


def with_parent_dirs(entries: Iterable[Entry]) -> list[Entry]:
    """Add a 0755 directory entry for every missing parent and sort by path."""
    by_path = {entry.path: entry for entry in entries}
    for path in list(by_path):
        parts = path.split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            by_path.setdefault(parent, Entry(parent, None, 0o755))
    return [by_path[path] for path in sorted(by_path)]
