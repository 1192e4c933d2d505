"""Session-scoped pytest fixtures for the stand-in Falco release.

Registered for the whole suite by ``pytest_plugins = ["tests.standin.fixtures"]``
in ``tests/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .release import StandinRelease, build_standin_release
from .server import serve

DEV_FALCO_VERSION = "0.44.0-12+abc1234"


@pytest.fixture(scope="session")
def standin_release(tmp_path_factory: pytest.TempPathFactory) -> StandinRelease:
    """The default final release (Falco 0.44.0, falcoctl 0.13.0, amd64 + arm64), built once."""
    return build_standin_release(tmp_path_factory.mktemp("standin"))


@pytest.fixture(scope="session")
def standin_dev_release(standin_release: StandinRelease) -> StandinRelease:
    """A dev release (``0.44.0-12+abc1234``) built next to ``standin_release``.

    It shares the server root and signing key, so ``standin_server`` serves both.
    """
    return build_standin_release(standin_release.root.parent, DEV_FALCO_VERSION)


@pytest.fixture(scope="session")
def standin_server(standin_release: StandinRelease) -> Iterator[str]:
    """Base URL (``http://127.0.0.1:PORT``) of a loopback server for the stand-in root."""
    with serve(standin_release.root) as base_url:
        yield base_url
