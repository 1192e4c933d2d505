"""The release's tags: Falco's arch tags, the tag-phase order, and floating tags never moving
backwards."""

from __future__ import annotations

import pytest

from pipelines.catalog.loader import LoadedFamily
from pipelines.errors import InputError
from pipelines.plan import plan
from pipelines.platforms import uname_machine
from pipelines.release.floating import (
    MoveFloatingTags,
    decide,
    floating_policy,
    precedence,
)
from pipelines.release.tag_plan import VariantTags, arch_tag, tag_phase_order
from pipelines.versions import parse_version

AMD, ARM = "sha256:" + "a" * 64, "sha256:" + "b" * 64
INDEX, DEBIAN = "sha256:" + "1" * 64, "sha256:" + "2" * 64
PLATFORMS = {"linux/amd64": AMD, "linux/arm64": ARM}


def test_arch_tags_are_falcos_own() -> None:
    assert uname_machine("linux/amd64") == "x86_64"
    assert uname_machine("linux/arm64") == "aarch64"
    assert arch_tag("linux/amd64", "0.44.0") == "x86_64-0.44.0"
    assert arch_tag("linux/arm64", "0.44.0-debian") == "aarch64-0.44.0-debian"
    with pytest.raises(InputError, match="unsupported platform"):
        uname_machine("linux/mips")


def test_every_fixed_tag_comes_before_any_floating_tag() -> None:
    falco = VariantTags("falco", "r/falco", INDEX, PLATFORMS, ("0.44.0", "latest"))
    debian = VariantTags(
        "falco-debian", "r/falco", DEBIAN, PLATFORMS, ("0.44.0-debian", "latest-debian")
    )
    order = tag_phase_order([falco, debian])
    assert [(a.tag, a.kind) for a in order] == [
        ("x86_64-0.44.0", "arch"),
        ("aarch64-0.44.0", "arch"),
        ("0.44.0", "exact"),
        ("x86_64-0.44.0-debian", "arch"),
        ("aarch64-0.44.0-debian", "arch"),
        ("0.44.0-debian", "exact"),
        ("latest", "floating"),
        ("latest-debian", "floating"),
    ]
    assert order[0].target.digest == AMD and not order[0].is_index
    assert order[1].target.digest == ARM and order[1].platform == "linux/arm64"
    assert order[2].target.digest == INDEX and order[2].is_index
    assert order[-1].target.digest == DEBIAN and order[-1].ref == "r/falco:latest-debian"


def test_two_variants_cannot_claim_one_tag() -> None:
    one = VariantTags("a", "r/x", INDEX, PLATFORMS, ("1.0.0", "latest"))
    two = VariantTags("b", "r/x", DEBIAN, PLATFORMS, ("1.0.0-b", "latest"))
    with pytest.raises(InputError, match="r/x:latest is a tag of both a and b"):
        tag_phase_order([one, two])


def test_a_pre_release_has_no_floating_tag(falco: LoadedFamily) -> None:
    dev = plan(falco, variants=["falco"], version="0.45.0-rc1")
    [target, *_] = dev.targets
    variant = VariantTags("falco", "r/falco", INDEX, PLATFORMS, target.tags)
    assert [a.tag for a in tag_phase_order([variant])] == [
        "x86_64-0.45.0-rc1",
        "aarch64-0.45.0-rc1",
        "0.45.0-rc1",
    ]


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        ("0.43.1", "0.44.0"),
        ("0.44.0", "0.44.1"),
        ("0.9.0", "0.10.0"),
        ("1.0.0-rc1", "1.0.0"),
        ("1.0.0-alpha", "1.0.0-alpha.1"),
        ("1.0.0-alpha.1", "1.0.0-alpha.beta"),
        ("1.0.0-beta.2", "1.0.0-beta.11"),
        ("1.0.0-rc.1", "1.0.0"),
    ],
)
def test_semver_precedence(older: str, newer: str) -> None:
    assert precedence(parse_version(older)) < precedence(parse_version(newer))


def test_build_metadata_does_not_count() -> None:
    assert precedence(parse_version("1.0.0+abc")) == precedence(parse_version("1.0.0"))


@pytest.mark.parametrize(
    ("policy", "release", "current", "exists", "move"),
    [
        (MoveFloatingTags.IF_NEWER, "0.44.0", None, False, True),  # a new tag
        (MoveFloatingTags.IF_NEWER, "0.44.0", "0.43.2", True, True),
        (MoveFloatingTags.IF_NEWER, "0.44.0", "0.44.0", True, True),  # a rebuild of it
        (MoveFloatingTags.IF_NEWER, "0.43.3", "0.44.0", True, False),  # never backwards
        (MoveFloatingTags.IF_NEWER, "0.44.0", None, True, False),  # no label: unknown
        (MoveFloatingTags.IF_NEWER, "0.44.0", "nightly", True, False),
        (MoveFloatingTags.ALWAYS, "0.43.3", "0.44.0", True, True),
        (MoveFloatingTags.NEVER, "0.45.0", "0.44.0", True, False),
        (MoveFloatingTags.NEVER, "0.45.0", None, False, False),
    ],
)
def test_floating_decision(
    policy: MoveFloatingTags, release: str, current: str | None, exists: bool, move: bool
) -> None:
    decision = decide(policy, parse_version(release), current, exists)
    assert decision.move is move
    assert decision.reason


def test_kept_tags_say_why() -> None:
    back = decide(MoveFloatingTags.IF_NEWER, parse_version("0.43.3"), "0.44.0", True)
    assert back.reason == "kept: it names 0.44.0, newer than 0.43.3"


def test_policy_names() -> None:
    assert floating_policy("if-newer") is MoveFloatingTags.IF_NEWER
    assert floating_policy("ALWAYS") is MoveFloatingTags.ALWAYS
    assert [m.value for m in MoveFloatingTags] == ["always", "if-newer", "never"]
    with pytest.raises(InputError, match="choose one of always, if-newer, never"):
        floating_policy("sometimes")
