"""What the distroless floor of a target kept, for the bench and the tests.

The report is a file of the pruning step itself: the chain is walked as :func:`build_container`
walks it, so the engine serves the same (cached) steps rather than building anything twice.
"""

from __future__ import annotations

import dagger

from pipelines.assembly.assemble import BuildContext, distroless_base, distroless_layer
from pipelines.assembly.floor_step import floor_run
from pipelines.plan import BuildTarget


def floor_report(ctx: BuildContext, target: BuildTarget) -> dagger.File | None:
    """The floor report (JSON) of ``target``; None when its root is not a distroless base with
    a floor."""
    root = target.root_base.distroless
    if root is None or root.floor is None:
        return None
    base = distroless_base(ctx, target)
    assembled = base
    for layer in target.layers:
        assembled = assembled.with_(distroless_layer(ctx, layer))
    return floor_run(root.floor, base, assembled, ctx.tools_image).report


def without_floor(target: BuildTarget) -> BuildTarget:
    """The same target with every package file kept (what the image was before the floor)."""
    root = target.root_base.distroless
    if root is None or root.floor is None:
        return target
    unfloored = root.model_copy(update={"floor": None})
    return target.model_copy(
        update={"root_base": target.root_base.model_copy(update={"distroless": unfloored})}
    )
