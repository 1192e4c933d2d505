"""Parts of one run's graph already sent to the engine, loaded back from their IDs.

The SDK sends an object argument (a verified file, the root filesystem a layer is unpacked
into) as its ID, asked with one request for every Python object that holds it, and each of
those requests first asks the IDs of that object's own arguments. Eight images built from one
catalog hold the same artifacts and, for a loader and its Debian image, the same layers: built
separately, each sends them again. Loaded from its ID once, a part is one argument however
many targets and checks use it; the images and their cache keys are the same.

A retry after a cache race (:mod:`pipelines.cache_race`) starts from empty ones: it builds
everything afresh.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import anyio
import dagger
from dagger import dag

from pipelines.assembly.verify import VerifiedArtifact
from pipelines.catalog.artifacts import ArtifactRef
from pipelines.once import Once

ChainKey = tuple[str, str, tuple[str, ...]]  # platform, base, variants root first
ArtifactKey = tuple[tuple[str, str, str], str]  # name, version, platform; URL


class LoadedChains:
    """Debian chains, by platform, base and variants: each built and loaded once."""

    def __init__(self) -> None:
        self._once: Once[ChainKey, dagger.Container] = Once()

    def keys(self) -> list[ChainKey]:
        """The chains loaded so far, in the order their loading finished."""
        return list(self._once.found)

    async def get(self, key: ChainKey, chain: Callable[[], dagger.Container]) -> dagger.Container:
        """The container of ``key``, built by ``chain`` and loaded from its ID the first time
        (the ID of a lazy chain: nothing runs)."""

        async def load() -> dagger.Container:
            return dag.load_container_from_id(await chain().id())

        return await self._once.get(key, load)


class LoadedArtifacts:
    """Verified artifacts, each loaded once; one whose verification fails is not kept (the
    steps that use it fail on it and report it, as without loading)."""

    def __init__(self) -> None:
        self._once: Once[ArtifactKey, VerifiedArtifact | None] = Once()

    def get(self, ref: ArtifactRef) -> VerifiedArtifact | None:
        """``ref`` as loaded, or None when it is not (yet, or its verification failed)."""
        return self._once.found.get((ref.key, ref.url))

    async def load(
        self, refs: Sequence[ArtifactRef], verified: Callable[[ArtifactRef], VerifiedArtifact]
    ) -> None:
        """Load every one of ``refs`` not loaded yet, concurrently; ``verified`` builds one.
        Asking a file's ID runs its verification step (the engine checks the file exists)."""

        async def one(ref: ArtifactRef) -> None:
            await self._once.get((ref.key, ref.url), lambda: _loaded(verified(ref)))

        async with anyio.create_task_group() as group:
            for ref in refs:
                group.start_soon(one, ref)


async def _loaded(artifact: VerifiedArtifact) -> VerifiedArtifact | None:
    try:
        file_id = await artifact.file.id()
        sha256_id = await artifact.sha256.id()
    except dagger.QueryError:
        return None
    return replace(
        artifact, file=dag.load_file_from_id(file_id), sha256=dag.load_file_from_id(sha256_id)
    )
