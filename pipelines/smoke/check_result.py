"""The outcome of one smoke check (shared by every check module)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check."""

    check: str
    passed: bool
    detail: str = ""
