"""Dagger pipelines that build, test and publish a family of container images."""

from pipelines.main import ImageFamily

__all__ = ["ImageFamily"]
