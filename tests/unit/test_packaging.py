"""pyproject.toml installs both ways: as Dagger's runtime installs a module, and as a library."""

from __future__ import annotations

import importlib.util
import json
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
DAGGER_JSON = json.loads((ROOT / "dagger.json").read_text())


def _requirement(requirements: list[str], name: str) -> str:
    [found] = [r for r in requirements if re.match(rf"{re.escape(name)}\b", r)]
    return found


def test_module_mode_takes_whatever_sdk_the_engine_generates() -> None:
    # the runtime's ./sdk has version 0.0.0: a pin in [project].dependencies cannot resolve
    assert _requirement(PYPROJECT["project"]["dependencies"], "dagger-io") == "dagger-io"
    assert PYPROJECT["tool"]["uv"]["sources"]["dagger-io"] == {"path": "sdk", "editable": True}
    # and the vendored sdk/ never travels with the module source
    assert "!sdk" in DAGGER_JSON["include"]


def test_host_extra_pins_the_engine_version() -> None:
    pin = _requirement(PYPROJECT["project"]["optional-dependencies"]["host"], "dagger-io")
    assert pin == f"dagger-io=={DAGGER_JSON['engineVersion'].removeprefix('v')}"
    assert "image-family[host]" in PYPROJECT["project"]["optional-dependencies"]["dev"]


def test_entry_point_names_the_main_object_of_the_module_name() -> None:
    # the runtime sets DAGGER_MAIN_OBJECT to the PascalCase of dagger.json's name
    main_object = "".join(part.capitalize() for part in DAGGER_JSON["name"].split("-"))
    entry = PYPROJECT["project"]["entry-points"]["dagger.mod"]["main_object"]
    assert entry == f"pipelines:{main_object}"


def test_sniffio_is_installed_for_httpcore() -> None:
    """httpcore imports sniffio on every request step and retries a failed import each time
    (a search of sys.path per call): the project depends on it so the import is found once."""
    assert _requirement(PYPROJECT["project"]["dependencies"], "sniffio").startswith("sniffio>=")
    assert importlib.util.find_spec("sniffio") is not None
