from __future__ import annotations

import pytest

from pipelines.errors import InputError
from pipelines.platforms import ElfMachine, arch_of, check_platform, elf_machine, select_platforms

FAMILY = ("linux/amd64", "linux/arm64")


def test_none_or_empty_selects_every_platform_in_family_order() -> None:
    assert select_platforms(None, FAMILY) == FAMILY
    assert select_platforms([], FAMILY) == FAMILY


def test_selection_follows_family_order_without_duplicates() -> None:
    assert select_platforms(["linux/arm64", "linux/amd64", "linux/arm64"], FAMILY) == FAMILY
    assert select_platforms(["linux/arm64"], FAMILY) == ("linux/arm64",)


def test_unknown_platform_names_the_valid_ones() -> None:
    with pytest.raises(InputError) as caught:
        select_platforms(["linux/s390x"], FAMILY)
    assert str(caught.value) == (
        "platform 'linux/s390x' is not built by this family; "
        "valid platforms: linux/amd64, linux/arm64"
    )


@pytest.mark.parametrize(
    ("bad", "hint"),
    [
        ("linux/x86_64", "did you mean 'linux/amd64'?"),
        ("linux/aarch64", "did you mean 'linux/arm64'?"),
        ("linux/amd46", "did you mean 'linux/amd64'?"),
    ],
)
def test_common_mistakes_get_a_hint(bad: str, hint: str) -> None:
    with pytest.raises(InputError, match=hint):
        select_platforms([bad], FAMILY)
    with pytest.raises(InputError, match=hint):
        check_platform(bad)


def test_elf_machines() -> None:
    assert elf_machine("linux/amd64") == ElfMachine(62, "EM_X86_64")
    assert elf_machine("linux/arm64") == ElfMachine(183, "EM_AARCH64")
    with pytest.raises(InputError, match="unsupported platform 'windows/amd64'"):
        elf_machine("windows/amd64")


def test_arch_of() -> None:
    assert arch_of("linux/arm64") == "arm64"
    assert arch_of("linux/arm/v7") == "arm"
