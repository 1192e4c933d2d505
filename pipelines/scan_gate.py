"""The release's vulnerability gate, as a Dagger enum (the CLI lists its members)."""

import enum

import dagger


@dagger.enum_type
class ScanGate(enum.Enum):
    """Lowest vulnerability severity that stops a release."""

    LOW = "LOW"
    """Stop on any LOW, MEDIUM, HIGH or CRITICAL finding."""

    MEDIUM = "MEDIUM"
    """Stop on MEDIUM and above."""

    HIGH = "HIGH"
    """Stop on HIGH and CRITICAL."""

    CRITICAL = "CRITICAL"
    """Stop on CRITICAL findings only."""

    NONE = "NONE"
    """No gate: scan and report only."""
