from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.catalog.schema import DEFAULT_OUTPUT, generate, main

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "images" / "schema"


def test_default_output_is_the_committed_directory() -> None:
    assert DEFAULT_OUTPUT == SCHEMA_DIR


@pytest.mark.parametrize("name", sorted(generate()))
def test_committed_schema_is_up_to_date(name: str) -> None:
    committed = SCHEMA_DIR / name
    assert committed.is_file(), f"run python -m pipelines.catalog.schema to create {name}"
    assert committed.read_text() == generate()[name], (
        f"{name} is stale: run python -m pipelines.catalog.schema"
    )


def test_family_and_variant_schemas_exist() -> None:
    assert {"family.schema.json", "variant.schema.json"} <= set(generate())


def test_schemas_describe_the_models() -> None:
    variant = json.loads(generate()["variant.schema.json"])
    assert variant["additionalProperties"] is False
    assert set(variant["required"]) == {"name", "description", "repository", "tags", "base"}
    size = variant["$defs"]["SizeBudget"]["properties"]["max_uncompressed_mb"]
    assert size["anyOf"][0]["exclusiveMinimum"] == 0
    family = json.loads(generate()["family.schema.json"])
    assert "signing_key" in family["properties"]


def test_main_writes_and_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check", "--output", str(tmp_path)]) == 1
    assert "out of date" in capsys.readouterr().err
    assert main(["--output", str(tmp_path)]) == 0
    assert main(["--check", "--output", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(generate())
