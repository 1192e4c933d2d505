"""The ``lock`` step: verify every artifact a plan downloads and pin its sha256."""

from __future__ import annotations

from collections.abc import Sequence

import anyio
import dagger

from pipelines.assembly.artifacts import ArtifactStore
from pipelines.catalog.artifacts import ArtifactRef
from pipelines.catalog.lock import LockEntry, LockFile, render_lock, update_lock
from pipelines.plan import BuildPlan
from pipelines.run import named_files, signing_key


def planned_artifacts(build_plan: BuildPlan) -> tuple[ArtifactRef, ...]:
    """Every artifact the plan's targets download, once each, in plan order."""
    refs: dict[str, ArtifactRef] = {}
    for target in build_plan.targets:
        for layer in target.layers:
            for ref in (layer.artifact, layer.falcoctl):
                if ref is not None:
                    refs.setdefault(ref.url, ref)
    return tuple(refs.values())


async def pin_artifacts(
    build_plan: BuildPlan,
    lock: LockFile,
    *,
    tools_image: str,
    local_artifacts: Sequence[dagger.File] = (),
) -> str:
    """The text of ``lock`` with a sha256 pin for every artifact of ``build_plan``.

    Each artifact is downloaded and verified exactly as a build would (an existing pin must
    match; otherwise its signature by the family's key or its published checksums must hold),
    so a pin is only ever written for content that proved itself. Raises FetchError naming the
    first artifact that did not.
    """
    store = ArtifactStore(signing_key(build_plan), tools_image, await named_files(local_artifacts))
    refs = planned_artifacts(build_plan)
    entries: list[LockEntry] = []

    async def pin(ref: ArtifactRef) -> None:
        verified = await store.get(ref)
        fields = {"name": ref.name, "version": ref.version, "platform": ref.platform}
        entries.append(LockEntry.model_validate({**fields, "sha256": verified.sha256}))

    async with anyio.create_task_group() as group:
        for ref in refs:
            group.start_soon(pin, ref)
    return render_lock(update_lock(lock, entries).artifact)
