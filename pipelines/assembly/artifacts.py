"""Each release artifact of a run is downloaded and verified once, however many images use it."""

from __future__ import annotations

from collections.abc import Mapping

import anyio
import dagger

from pipelines.assembly.fetch import SigningKeyRef, VerifiedArtifact, fetch_verified
from pipelines.catalog.artifacts import ArtifactRef


class ArtifactStore:
    """Verified artifacts of one run, keyed by URL; concurrent requests share one download."""

    def __init__(
        self,
        key: SigningKeyRef | None,
        tools_image: str,
        local: Mapping[str, dagger.File] | None = None,
    ) -> None:
        self._key = key
        self._tools_image = tools_image
        self._local = dict(local or {})
        self._results: dict[str, VerifiedArtifact] = {}
        self._locks: dict[str, anyio.Lock] = {}

    async def get(self, ref: ArtifactRef) -> VerifiedArtifact:
        """``ref`` downloaded (or taken from the local files by name) and verified."""
        lock = self._locks.setdefault(ref.url, anyio.Lock())
        async with lock:
            if ref.url not in self._results:
                self._results[ref.url] = await fetch_verified(
                    ref,
                    self._key,
                    local=self._local.get(ref.filename),
                    tools_image=self._tools_image,
                )
            return self._results[ref.url]

    def verified(self) -> list[VerifiedArtifact]:
        """Everything verified so far, in URL order."""
        return [self._results[url] for url in sorted(self._results)]
