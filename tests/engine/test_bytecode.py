"""The Python bytecode that maintainer scripts compile is the same in two builds (the legacy
driver loader: bullseye's Python 3.9 compiles its standard library in its postinst)."""

from __future__ import annotations

from pathlib import Path

import dagger
import pytest
from dagger import dag

from pipelines.assembly.assemble import BuildContext, debian_layer, packages_step
from pipelines.catalog.mirrors import parse_mirrors
from tests.engine.family import LEGACY_RELEASE, TOOLS_IMAGE, pinned_plan
from tests.standin import StandinRelease

pytestmark = [pytest.mark.engine, pytest.mark.usefixtures("engine")]

# path and sha256 of every .pyc, then whether Python 3.9 takes its cached bytecode as valid
_BYTECODE = r"""
find / -xdev -name '*.pyc' | LC_ALL=C sort | xargs -r sha256sum
python3.9 -v -c 'import difflib' 2>&1 | grep -c 'matches /usr/lib/python3.9/difflib.py'
"""


async def test_bytecode_compiled_by_maintainer_scripts_is_reproducible(
    tmp_path: Path, standin_release: StandinRelease, standin_server: str, falco_packages: str
) -> None:
    build_plan, catalog = pinned_plan(
        tmp_path / "falco",
        standin_release,
        standin_server,
        falco_packages,
        variants=["falco-driver-loader-legacy"],
        platforms=["linux/amd64"],
        params=[f"release={LEGACY_RELEASE}"],
    )
    ctx = BuildContext(
        catalog=dag.host().directory(str(catalog)),
        tools_image=TOOLS_IMAGE,
        signing_key=build_plan.signing_key,
        mirrors=parse_mirrors(build_plan.mirrors),
    )
    (target,) = build_plan.targets
    assert target.root_base.image is not None
    base = dag.container(platform=dagger.Platform(target.platform)).from_(target.root_base.image)
    for layer in target.layers[:-1]:
        base = base.with_(debian_layer(ctx, layer))
    layer = target.layers[-1]

    async def configured(run: str) -> list[str]:
        # the run number changes the configure step's key, not the unpacked files: each run
        # runs the maintainer scripts anew on the same files
        built = base.with_env_variable("BUILD_RUN", run).with_(packages_step(ctx, layer))
        return (await built.with_exec(["sh", "-c", _BYTECODE]).stdout()).splitlines()

    first, second = await configured("1"), await configured("2")
    assert len([line for line in first if "/python3.9/" in line]) > 400
    assert first[-1] == "1"  # the recompiled bytecode is valid for its source
    assert [a for a, b in zip(first, second, strict=True) if a != b] == []
