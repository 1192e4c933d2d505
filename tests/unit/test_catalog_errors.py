"""Every invalid catalog is refused with a message naming the file, the field and the rule."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipelines.catalog.loader import LoadedFamily, load_family
from pipelines.errors import CatalogError, PipelineError
from pipelines.plan import BuildPlan, plan

EXAMPLES = Path(__file__).resolve().parents[2] / "tests" / "examples"
INVALID = sorted(path for path in (EXAMPLES / "invalid").iterdir() if path.is_dir())
VALID = sorted(path for path in (EXAMPLES / "valid").iterdir() if path.is_dir())


def test_there_are_many_invalid_cases() -> None:
    assert len(INVALID) >= 40


def load_and_plan(family_dir: Path) -> tuple[LoadedFamily, BuildPlan]:
    """What every entry point does first: load the catalog, then plan it (at its defaults, the
    plan renders and checks every template once)."""
    family = load_family(family_dir)
    return family, plan(family)


@pytest.mark.parametrize("family_dir", VALID, ids=lambda path: path.name)
def test_valid_examples_load(family_dir: Path) -> None:
    family, build_plan = load_and_plan(family_dir)
    assert family.variants and build_plan.targets


@pytest.mark.parametrize("case", INVALID, ids=lambda path: path.name)
def test_invalid_example_fails_with_expected_message(case: Path) -> None:
    expected = [
        line.strip()
        for line in (case / "expected_error.txt").read_text().splitlines()
        if line.strip()
    ]
    assert expected, "expected_error.txt must name at least one substring"
    with pytest.raises(CatalogError) as caught:
        load_and_plan(case)
    message = str(caught.value)
    for substring in expected:
        assert substring in message
    assert isinstance(caught.value, PipelineError)
    assert caught.value.file is not None
    assert str(case.relative_to(Path.cwd()) if case.is_relative_to(Path.cwd()) else case) in message


def test_catalog_error_format() -> None:
    error = CatalogError("images/falco/variants/falco/variant.toml",
                         "tests.size.max_uncompressed_mb",
                         "Input should be greater than 0")  # fmt: skip
    assert str(error) == (
        "images/falco/variants/falco/variant.toml: tests.size.max_uncompressed_mb: "
        "Input should be greater than 0"
    )
    assert (error.file, error.field, error.message) == (
        "images/falco/variants/falco/variant.toml",
        "tests.size.max_uncompressed_mb",
        "Input should be greater than 0",
    )
    assert str(CatalogError("family.toml", None, "file not found")) == "family.toml: file not found"


def test_catalog_error_path_is_relative_to_working_directory() -> None:
    error = CatalogError(Path.cwd() / "images" / "x.toml", "a", "b")
    assert error.file == str(Path("images") / "x.toml")


def test_several_problems_are_all_reported(tmp_path: Path) -> None:
    family = tmp_path / "mini"
    shutil.copytree(EXAMPLES / "invalid" / "size-not-positive", family)
    variant = family / "variants" / "app" / "variant.toml"
    variant.write_text(
        variant.read_text().replace('repository = "app"', 'repository = "App"') + 'unknown = "x"\n'
    )
    with pytest.raises(CatalogError) as caught:
        load_family(family)
    lines = str(caught.value).splitlines()
    assert len(lines) == 3
    assert all(line.startswith(str(variant)) for line in lines)
    assert any("repository: 'App' is not a valid image repository name" in line for line in lines)
    assert any("unknown: Extra inputs are not permitted" in line for line in lines)
    assert any("tests.size.max_uncompressed_mb: Input should be greater than 0" in line
               for line in lines)  # fmt: skip
    assert caught.value.field == "repository"
    assert len(caught.value.others) == 2


def test_missing_family_directory(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="family directory not found"):
        load_family(tmp_path / "nope")


def test_symlink_keys_and_nested_errors_have_readable_paths(tmp_path: Path) -> None:
    family = tmp_path / "mini"
    shutil.copytree(EXAMPLES / "invalid" / "size-not-positive", family)
    variant = family / "variants" / "app" / "variant.toml"
    variant.write_text(
        variant.read_text().replace("[tests.size]\nmax_uncompressed_mb = 0\n", "")
        + '\n[install.symlinks]\n"/lib/modules" = 1\n'
        + '\n[image.env]\n"BAD-NAME" = "x"\n'
    )
    with pytest.raises(CatalogError) as caught:
        load_family(family)
    message = str(caught.value)
    assert 'install.symlinks["/lib/modules"]: Input should be a valid string (got 1)' in message
    assert (
        "image.env.BAD-NAME (key): 'BAD-NAME' is not a valid environment variable name" in message
    )
