"""The pipeline is generic: no family's name in its code, and its import layers hold."""

from __future__ import annotations

import re
from pathlib import Path

PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"


def test_no_family_name_in_the_pipeline() -> None:
    """Falco lives in images/falco (data); pipelines/ must serve any family."""
    hits = [
        f"{path.relative_to(PIPELINES.parent)}:{number}: {line.strip()}"
        for path in sorted(PIPELINES.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if re.search("falco", line, re.IGNORECASE)
    ]
    assert not hits, "\n".join(hits)
