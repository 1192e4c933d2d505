"""Distroless root filesystems assembled from Debian packages, the way rules_distroless does.

The locked packages for the target architecture are unpacked by the native tools container
(``dpkg-deb`` extraction, no maintainer scripts, no emulation), so the arm64 rootfs costs the
same as the amd64 one. The result has no shell and no package manager unless a listed package
brings one; each package's control file is kept under ``/var/lib/dpkg/status.d`` so SBOM and
vulnerability scanners can see what the image holds.
"""

from __future__ import annotations

import dagger

from pipelines.catalog.variant import DistrolessBase
from pipelines.tools import tools_container

# Releases whose official images keep /bin, /sbin, /lib apart from /usr.
UNMERGED_USR_RELEASES = frozenset({"stretch", "buster", "bullseye"})

_ASSEMBLE = r"""
set -eu
mkdir -p /rootfs && cd /rootfs
if [ "$MERGED_USR" = 1 ]; then
  for d in bin sbin lib; do mkdir -p "usr/$d"; ln -s "usr/$d" "$d"; done
  if [ "$ARCH" = amd64 ]; then mkdir -p usr/lib64; ln -s usr/lib64 lib64; fi
fi
mkdir -p var/lib/dpkg/status.d
for deb in /debs/*.deb; do
  dpkg-deb --fsys-tarfile "$deb" | tar -x --keep-directory-symlink -C /rootfs
  name=$(dpkg-deb -f "$deb" Package)
  dpkg-deb -f "$deb" > "var/lib/dpkg/status.d/$name"
done
if [ -d usr/share/ca-certificates ]; then
  mkdir -p etc/ssl/certs
  find usr/share/ca-certificates -name '*.crt' | LC_ALL=C sort | xargs cat \
    > etc/ssl/certs/ca-certificates.crt
fi
rm -rf usr/share/man usr/share/info usr/share/lintian usr/share/locale usr/share/doc/*/changelog*
cat > etc/passwd <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOF
cat > etc/group <<'EOF'
root:x:0:
nobody:x:65534:
nonroot:x:65532:
EOF
printf 'hosts: files dns\n' > etc/nsswitch.conf
install -d -m 1777 tmp
install -d -m 0700 root
install -d -m 0700 -o 65532 -g 65532 home/nonroot
"""


def distroless_rootfs(
    spec: DistrolessBase, platform: str, tools_image: str, debs: dagger.Directory
) -> dagger.Directory:
    """The root filesystem of ``spec`` for ``platform`` (e.g. ``linux/arm64``), unpacked from
    ``debs``: the base's locked packages, verified (see :mod:`pipelines.debian.fetch`)."""
    arch = platform.split("/")[1]
    merged = "0" if spec.release in UNMERGED_USR_RELEASES else "1"
    return (
        tools_container(tools_image)
        .with_mounted_directory("/debs", debs)
        .with_env_variable("ARCH", arch)
        .with_env_variable("MERGED_USR", merged)
        .with_exec(["sh", "-c", _ASSEMBLE])
        .directory("/rootfs")
    )
