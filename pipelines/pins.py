"""The ``lock`` step: verify every artifact a plan downloads and pin its sha256."""

from __future__ import annotations

from collections.abc import Sequence

import anyio
import dagger

from pipelines.assembly.verify import FetchError, describe, failed_download
from pipelines.catalog.artifacts import ArtifactRef
from pipelines.catalog.lock import LockEntry, LockFile, render_lock, update_lock
from pipelines.plan import BuildPlan
from pipelines.run import build_context


async def pin_artifacts(
    build_plan: BuildPlan,
    catalog: dagger.Directory,
    lock: LockFile,
    *,
    tools_image: str,
    local_artifacts: Sequence[dagger.File] = (),
    trust_unverified: bool = False,
) -> str:
    """The text of ``lock`` with a sha256 pin for every artifact of ``build_plan``.

    Each artifact is downloaded and verified exactly as a build would (an existing pin must
    match; otherwise its signature by the family's key or its published checksums must hold),
    so a pin is only ever written for content that proved itself. Raises FetchError naming
    every artifact that did not (and writes nothing). An artifact that nothing vouches for (no
    signature, no checksums file) is pinned as downloaded only with ``trust_unverified``: trust
    on first use, for the reviewer of the lock file's diff to accept.
    """
    ctx = await build_context(build_plan, catalog, tools_image, local_artifacts)
    entries: list[LockEntry] = []
    failures: list[str] = []

    async def pin(ref: ArtifactRef) -> None:
        try:
            sha256 = await ctx.verified(ref, trust_unverified=trust_unverified).sha256.contents()
        except dagger.ExecError as exc:
            failures.append(exc.stderr.strip().removeprefix("error: "))
            return
        except FetchError as exc:
            failures.append(str(exc))
            return
        except dagger.QueryError as exc:
            failures.append(
                await failed_download((ref,), ctx.signing_key) or f"{describe(ref)}: {exc}"
            )
            return
        fields = {"name": ref.name, "version": ref.version, "platform": ref.platform}
        entries.append(LockEntry.model_validate({**fields, "sha256": sha256}))

    async with anyio.create_task_group() as group:
        for ref in build_plan.artifacts:
            group.start_soon(pin, ref)
    if failures:
        raise FetchError("nothing locked:\n" + "\n".join(sorted(failures)))
    return render_lock(update_lock(lock, entries).artifact)
