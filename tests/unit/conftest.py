"""Shared fixtures of the pure unit tests: the real Falco catalog and the example family."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.catalog.loader import LoadedFamily, load_family

REPO_ROOT = Path(__file__).resolve().parents[2]
FALCO_DIR = REPO_ROOT / "images" / "falco"
EXAMPLES_DIR = REPO_ROOT / "tests" / "examples"
HELLO_DIR = EXAMPLES_DIR / "valid" / "hello"


@pytest.fixture(scope="session")
def falco() -> LoadedFamily:
    """The real Falco catalog."""
    return load_family(FALCO_DIR)


@pytest.fixture(scope="session")
def hello() -> LoadedFamily:
    """The small non-Falco example family."""
    return load_family(HELLO_DIR)
