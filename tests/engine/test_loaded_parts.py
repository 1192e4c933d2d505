"""A run loads each Debian chain and each verified artifact from its ID once: the images have
the same IDs (the same graph, the same cache keys) as built without loading, a loader reuses
its Debian image's chain, a failed verification is not kept, and a retry builds afresh."""

from __future__ import annotations

from pathlib import Path

import dagger
import pytest
from dagger import dag

from pipelines.assembly.assemble import build_container, loaded_container
from pipelines.catalog.loader import load_family
from pipelines.plan import BuildPlan, plan
from pipelines.run import build_context
from tests.engine.family import TOOLS_IMAGE, mirrors, pins_of, standin_catalog
from tests.standin import StandinRelease

pytestmark = [pytest.mark.engine, pytest.mark.usefixtures("engine")]


def debian_and_loader(catalog: Path, release: StandinRelease, server: str) -> BuildPlan:
    return plan(
        load_family(catalog),
        variants=["falco-debian", "falco-driver-loader"],
        platforms=["linux/amd64"],
        version=release.falco_version,
        mirrors=mirrors(server),
    )


async def test_loaded_images_are_the_images_built_without_loading(
    tmp_path: Path, standin_release: StandinRelease, standin_server: str, falco_packages: str
) -> None:
    pins, out = pins_of(standin_release), tmp_path / "falco"
    catalog = standin_catalog(out, standin_release, pins=pins, packages=falco_packages)
    build_plan = debian_and_loader(catalog, standin_release, standin_server)
    catalog_dir = dag.host().directory(str(catalog))
    debian, loader = build_plan.targets
    assert (debian.variant, loader.variant) == ("falco-debian", "falco-driver-loader")

    ctx = await build_context(build_plan, catalog_dir, TOOLS_IMAGE)
    loaded = {t.variant: await loaded_container(ctx, t) for t in (loader, debian)}
    plain = await build_context(build_plan, catalog_dir, TOOLS_IMAGE)
    for t in (debian, loader):
        assert await loaded[t.variant].id() == await build_container(plain, t).id(), t.variant
    # the Debian image's chain was built once, and the loader starts from it
    assert ctx.chains.keys() == [
        ("linux/amd64", debian.base_key, ("falco-debian",)),
        ("linux/amd64", debian.base_key, ("falco-debian", "falco-driver-loader")),
    ]
    # every artifact verified once: later uses get the loaded files
    for ref in loader.artifacts:
        assert ctx.verified(ref) is ctx.verified(ref), ref.name
        assert plain.verified(ref) is not plain.verified(ref)
    # a retry after a cache race builds everything afresh (downloads under fresh names)
    again = ctx.again(1)
    assert all(again.verified(ref) is not ctx.verified(ref) for ref in loader.artifacts)
    retried = await loaded_container(again, debian)
    assert len(ctx.chains.keys()) == 2
    assert await retried.id() == await loaded["falco-debian"].id()


async def test_an_artifact_that_fails_verification_is_not_kept(
    tmp_path: Path, standin_release: StandinRelease, standin_server: str, falco_packages: str
) -> None:
    wrong = [
        e.model_copy(update={"sha256": "0" * 64}) if e.name == "deb" else e
        for e in pins_of(standin_release)
    ]
    out = tmp_path / "falco"
    catalog = standin_catalog(out, standin_release, pins=wrong, packages=falco_packages)
    build_plan = debian_and_loader(catalog, standin_release, standin_server)
    ctx = await build_context(build_plan, dag.host().directory(str(catalog)), TOOLS_IMAGE)
    debian = build_plan.targets[0]
    [deb] = [ref for ref in debian.artifacts if ref.name == "deb"]
    await ctx.load_artifacts(debian.artifacts)
    assert ctx.artifacts.get(deb) is None
    assert all(ctx.artifacts.get(ref) is not None for ref in debian.artifacts if ref is not deb)
    # the step that uses it fails on it, with the verification's own message
    with pytest.raises(dagger.ExecError) as failed:
        await (await loaded_container(ctx, debian)).sync()
    assert f"sha256 mismatch: the lock file pins {'0' * 64}" in failed.value.stderr
