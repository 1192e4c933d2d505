"""The catalog fields of the distroless floor and of the new checks, and where they are used."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipelines.catalog.loader import LoadedFamily
from pipelines.catalog.variant import DistrolessFloor, LoadTest, SecurityUpdatesTest
from pipelines.plan import plan


def test_every_image_is_gated_on_pending_security_updates(
    falco: LoadedFamily, hello: LoadedFamily
) -> None:
    for family in (falco, hello):
        for target in plan(family).targets:
            assert target.tests.security_updates is not None, target.variant
    legacy = plan(falco, variants=["falco-driver-loader-legacy"]).targets[0]
    assert legacy.tests.security_updates is not None
    assert legacy.tests.security_updates.from_image_sources  # buster's suite is a snapshot's


def test_distroless_images_are_pruned_to_their_floor(
    falco: LoadedFamily, hello: LoadedFamily
) -> None:
    for family, variant in ((falco, "falco"), (hello, "hello")):
        distroless = plan(family, variants=[variant]).targets[0].root_base.distroless
        assert distroless is not None and distroless.floor is not None
        assert distroless.floor.roots is None  # every ELF file the artifacts install
    falco_base = plan(falco, variants=["falco"]).targets[0].root_base.distroless
    assert falco_base is not None and falco_base.floor is not None
    assert "gcc-12-base" in falco_base.packages  # libstdc++6's copyright file is its
    assert "/etc/services" in falco_base.floor.keep
    falco_tests = plan(falco, variants=["falco"]).targets[0].tests
    assert [t.path for t in falco_tests.loads] == [
        "/usr/bin/falco",
        "/usr/share/falco/plugins/*.so",
    ]


def test_floor_and_check_fields_refuse_bad_values() -> None:
    assert DistrolessFloor().gconv == "auto"
    with pytest.raises(ValidationError, match="'auto', 'keep' or 'drop'"):
        DistrolessFloor.model_validate({"gconv": "sometimes"})
    with pytest.raises(ValidationError, match="must be an absolute path"):
        DistrolessFloor.model_validate({"keep": ["etc/services"]})
    with pytest.raises(ValidationError, match="must be an absolute path"):
        LoadTest.model_validate({"path": "usr/bin/app"})
    assert SecurityUpdatesTest().components == ["main"]
    with pytest.raises(ValidationError, match="drop mirror and suite"):
        SecurityUpdatesTest.model_validate({"from_image_sources": True, "suite": "buster/updates"})
    with pytest.raises(ValidationError, match="http:// or https://"):
        SecurityUpdatesTest.model_validate({"mirror": "deb.debian.org"})
