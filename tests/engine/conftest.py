"""Engine-test fixtures shared by several modules: the Falco catalog's Debian packages, locked
once per session by the pipeline's own `lock` step against the Debian mirror."""

from __future__ import annotations

import pytest
from dagger import dag

from pipelines.catalog.loader import load_family
from pipelines.pins import lock_packages
from pipelines.plan import plan
from tests.engine.family import LEGACY_RELEASE, TOOLS_IMAGE, mirrors, pins_of, standin_catalog
from tests.standin import StandinRelease


@pytest.fixture(scope="session")
async def falco_packages(
    engine: None,
    tmp_path_factory: pytest.TempPathFactory,
    standin_release: StandinRelease,
    standin_server: str,
) -> str:
    """packages.lock.toml for every variant of the Falco catalog on both platforms (the legacy
    loader on bullseye), resolved afresh: the mirror moves, a committed lock would go stale."""
    catalog = standin_catalog(
        tmp_path_factory.mktemp("lock") / "falco", standin_release, pins=pins_of(standin_release)
    )
    family = load_family(catalog)
    build_plan = plan(
        family,
        version=standin_release.falco_version,
        params=[f"release={LEGACY_RELEASE}"],
        mirrors=mirrors(standin_server),
    )
    return await lock_packages(
        build_plan,
        dag.host().directory(str(catalog)),
        family.packages_lock,
        tools_image=TOOLS_IMAGE,
    )
