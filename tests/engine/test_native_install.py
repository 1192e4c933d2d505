"""Debian packages unpacked by the native dpkg and configured in the image (the pipeline's way,
no emulated package manager) give the image that apt inside it gives: the same packages,
versions, states and automatic marks, and the same files (type, mode, owner, size, link target,
content), for a Debian variant and a driver loader on both platforms."""

from __future__ import annotations

from pathlib import Path

import dagger
import pytest
from dagger import dag

from pipelines.assembly.assemble import BuildContext, debian_layer, packages_step
from pipelines.catalog.mirrors import parse_mirrors
from pipelines.catalog.variant import DebArtifact
from pipelines.debian.sources import sources_script
from pipelines.plan import BuildPlan, BuildTarget, Layer
from pipelines.tools import tools_container
from tests.engine.family import TOOLS_IMAGE, pinned_plan
from tests.standin import StandinRelease

pytestmark = [pytest.mark.engine, pytest.mark.usefixtures("engine")]

# What a Dockerfile's `apt-get install` does, from the same verified files (no index, no
# download): apt orders, unpacks and configures everything inside the image, emulated for a
# foreign platform. Given files, apt marks each one manual: the marks are then set as apt from
# a mirror sets them.
_APT_IN_IMAGE = r"""
set -eu
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
if layer_sources; then rm -f /etc/apt/sources.list.d/*; fi
before=" $(dpkg-query -W -f '${Package} ') "
was_auto=$(apt-mark showauto)
mkdir -p /tmp/apt/lists/partial /tmp/apt/cache/archives/partial
set --
for deb in /run/debs/*.deb /run/artifacts/*.deb; do [ ! -e "$deb" ] || set -- "$@" "$deb"; done
apt-get -q -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts=/dev/null \
  -o Dir::State::Lists=/tmp/apt/lists -o Dir::Cache=/tmp/apt/cache \
  install -y --no-install-recommends "$@"
auto=""
for name in $LOCKED; do
  case " $REQUESTED $before " in *" $name "*) ;; *) auto="$auto $name";; esac
done
# apt from a mirror keeps the marks of what it upgrades, and makes what it is asked for manual
for name in $was_auto; do
  case " $REQUESTED " in *" $name "*) ;; *) auto="$auto $name";; esac
done
[ -z "$auto" ] || apt-mark auto $auto >/dev/null
rm -rf /tmp/apt /var/log/dpkg.log /var/log/alternatives.log /var/log/apt/* \
  /var/cache/debconf/*-old /var/cache/ldconfig/aux-cache /var/cache/apt/*.bin
"""

# One line per file: path, type, mode, owner, size of a regular file, link target, sha256.
_MANIFEST = r"""
cd /root-fs
find . -xdev -printf '%p|%y|%m|%U:%G|%s|%l\n' | while IFS='|' read -r p y m o s l; do
  case "$y" in
    f) echo "$p|f|$m|$o|$s||$(sha256sum < "$p" | cut -d' ' -f1)";;
    *) echo "$p|$y|$m|$o|||$l";;
  esac
done | LC_ALL=C sort
"""

# What each image's dpkg and apt say was installed, and how.
_PACKAGES = r"""
dpkg-query -W -f '${Package}:${Architecture} ${Version} ${Status}\n' | LC_ALL=C sort
echo "automatic: $(apt-mark showauto | LC_ALL=C sort | tr '\n' ' ')"
dpkg --audit
"""


@pytest.fixture(scope="module")
def debian_plan(
    tmp_path_factory: pytest.TempPathFactory,
    standin_release: StandinRelease,
    standin_server: str,
    falco_packages: str,
) -> tuple[BuildPlan, Path]:
    """The Falco Debian image and the driver loader on both platforms, every input pinned,
    and its catalog."""
    out: Path = tmp_path_factory.mktemp("native") / "falco"
    return pinned_plan(
        out,
        standin_release,
        standin_server,
        falco_packages,
        variants=["falco-debian", "falco-driver-loader"],
    )


def _context(build_plan: BuildPlan, catalog: Path) -> BuildContext:
    return BuildContext(
        catalog=dag.host().directory(str(catalog)),
        tools_image=TOOLS_IMAGE,
        signing_key=build_plan.signing_key,
        mirrors=parse_mirrors(build_plan.mirrors),
    )


def _apt_in_image(ctx: BuildContext, layer: Layer, ctr: dagger.Container) -> dagger.Container:
    """``layer``'s packages installed by apt inside ``ctr`` (the reference)."""
    assert layer.packages is not None
    for name, value in {"DEBIAN_FRONTEND": "noninteractive", **layer.spec.install.env}.items():
        ctr = ctr.with_env_variable(name, value)
    for planned in layer.artifacts:
        if isinstance(planned.step, DebArtifact):
            path = f"/run/artifacts/{planned.ref.filename}"
            ctr = ctr.with_mounted_file(path, ctx.verified(planned.ref).file)
    script = sources_script(layer.spec.install, "/etc/apt/sources.list") + _APT_IN_IMAGE
    return (
        ctr.with_mounted_directory("/run/debs", ctx.debs(layer.packages))
        .with_env_variable("LOCKED", " ".join(p.name for p in layer.packages.packages))
        .with_env_variable("REQUESTED", " ".join(layer.packages.requested))
        .with_exec(["sh", "-c", script])
    )


def _pipeline_way(ctx: BuildContext, layer: Layer, ctr: dagger.Container) -> dagger.Container:
    for name, value in layer.spec.install.env.items():
        ctr = ctr.with_env_variable(name, value)
    return ctr.with_(packages_step(ctx, layer))


def _base(ctx: BuildContext, target: BuildTarget) -> dagger.Container:
    """The image the target's last layer is installed on (its earlier layers, built)."""
    assert target.root_base.image is not None
    ctr = dag.container(platform=dagger.Platform(target.platform)).from_(target.root_base.image)
    for layer in target.layers[:-1]:
        ctr = ctr.with_(debian_layer(ctx, layer))
    return ctr


async def _manifest(ctr: dagger.Container) -> list[str]:
    listing = (
        tools_container(TOOLS_IMAGE)
        .with_mounted_directory("/root-fs", ctr.rootfs())
        .with_exec(["sh", "-c", _MANIFEST])
    )
    return (await listing.stdout()).splitlines()


@pytest.mark.parametrize("platform", ["linux/amd64", "linux/arm64"])
@pytest.mark.parametrize("variant", ["falco-debian", "falco-driver-loader"])
async def test_native_unpack_gives_what_apt_in_the_image_gives(
    debian_plan: tuple[BuildPlan, Path], variant: str, platform: str
) -> None:
    build_plan, catalog = debian_plan
    ctx = _context(build_plan, catalog)
    (target,) = [t for t in build_plan.targets if t.variant == variant and t.platform == platform]
    base = _base(ctx, target)
    layer = target.layers[-1]
    ours = _pipeline_way(ctx, layer, base)
    reference = _apt_in_image(ctx, layer, base)

    ours_packages = await ours.with_exec(["sh", "-c", _PACKAGES]).stdout()
    reference_packages = await reference.with_exec(["sh", "-c", _PACKAGES]).stdout()
    assert ours_packages == reference_packages
    assert f"falco:{platform.split('/')[1]} " in ours_packages
    assert "install ok installed" in ours_packages
    assert "half" not in ours_packages and "unpacked" not in ours_packages

    ours_files, reference_files = await _manifest(ours), await _manifest(reference)
    only_ours = sorted(set(ours_files) - set(reference_files))
    only_reference = sorted(set(reference_files) - set(ours_files))
    assert (_differing(only_ours), _differing(only_reference)) == ([], [])
    assert len(ours_files) > 1000


def _differing(lines: list[str]) -> list[str]:
    """Manifest lines, but two files whose bytes may differ: apt's marks (the same records,
    compared above, in the order of the marking runs) and dpkg's backup of its database before
    its last run (how many runs there were is not the image's content)."""
    ignored = ("./var/lib/apt/extended_states|", "./var/lib/dpkg/status-old|")
    return [line for line in lines if not line.startswith(ignored)]
