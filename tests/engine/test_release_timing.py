"""How long a full release takes: scan gate, push, sign, attest SBOMs, tags (and a re-run).

Prints the wall times; with ``RELEASE_TIMING=FILE`` also appends them to FILE as JSON lines.
"""

from __future__ import annotations

import json
import os
import time

import pytest

from pipelines.release.publish import publish_release
from pipelines.results import BuildResult
from tests.engine.test_publish import full_release_steps, namespace, small_family

pytestmark = [pytest.mark.engine, pytest.mark.usefixtures("engine")]
__all__ = ["small_family"]


async def test_full_release_time(small_family: BuildResult, registry: str) -> None:
    steps, _ = await full_release_steps(registry)
    ns = namespace()
    times: dict[str, float] = {}
    for run in ("first", "again"):
        start = time.monotonic()
        images = await publish_release(small_family, registry, namespace=ns, steps=steps)
        times[run] = round(time.monotonic() - start, 1)
        assert [i.variant for i in images] == ["falco", "falco-debian"]
    print(f"full release: {times}")
    if path := os.environ.get("RELEASE_TIMING"):
        with open(path, "a") as out:
            out.write(json.dumps({"namespace": ns, **times}) + "\n")
