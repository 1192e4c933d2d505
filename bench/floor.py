"""``python -m bench.floor``: distroless images against their floor (see bench/README.md).

For every distroless variant with a floor (``falco`` from the stand-in release, the example
family's ``hello``), on both platforms: the image before (every file of every package) and after
the floor, and the floor itself: the chain's own files, their ELF closure and the files every
distroless image keeps, as bytes of files and as a tar of them. The ratio image / floor is the
goal (<= 1.1); the tar one shows what is left once the layer format's per-file overhead (a
512-byte header and padding per entry: 1,300 time zone files) is counted on both sides.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import anyio
import dagger
from dagger import dag

from pipelines.assembly.assemble import build_container
from pipelines.assembly.floor_report import floor_report, without_floor
from pipelines.catalog.loader import load_family
from pipelines.oci.sizes import image_size
from pipelines.plan import BuildPlan, BuildTarget, plan
from pipelines.run import build_context
from pipelines.smoke.checks import MB
from tests.engine.family import locked, mirrors, pins_of, standin_catalog
from tests.standin import build_standin_release, serve
from tests.standin.hello import HOST as HELLO_HOST
from tests.standin.hello import build_hello_release

REPO = Path(__file__).resolve().parents[1]
HELLO_CATALOG = REPO / "tests" / "examples" / "valid" / "hello"
DEFAULT_WORK = Path(os.environ.get("BENCH_WORK", "/var/tmp/image-family-bench"))
GOAL = 1.1


@dataclass(frozen=True)
class FloorFigures:
    """One distroless image against its floor, in bytes."""

    variant: str
    platform: str
    before: int  # the image without the floor (config and uncompressed layers)
    after: int  # the image with it
    floor: int  # bytes of the floor's files
    floor_tar: int  # the same files as a tar
    kept_beyond: int  # bytes kept beyond the floor (catalog keep, NSS modules, gconv)
    gconv: str

    @property
    def ratio(self) -> float:
        """Image / floor: the goal."""
        return self.after / self.floor

    @property
    def tar_ratio(self) -> float:
        """Image / floor as a tar: the same, layer-format overhead counted on both sides."""
        return self.after / self.floor_tar


async def figures(build_plan: BuildPlan, catalog: Path, target: BuildTarget) -> FloorFigures:
    """Build ``target`` with and without its floor and read the floor's report."""
    ctx = await build_context(build_plan, dag.host().directory(str(catalog)))
    report_file = floor_report(ctx, target)
    assert report_file is not None, f"{target.variant} has no floor"
    report = json.loads(await report_file.contents())
    after = await image_size(build_container(ctx, target), ctx.tools_image)
    before = await image_size(build_container(ctx, without_floor(target)), ctx.tools_image)
    beyond = sum(report["bytes"][c] for c in ("nss", "gconv", "keep"))
    return FloorFigures(
        variant=target.variant,
        platform=target.platform,
        before=before.uncompressed,
        after=after.uncompressed,
        floor=report["floor_bytes"],
        floor_tar=report["floor_tar_bytes"],
        kept_beyond=beyond,
        gconv=report["gconv"].split(":")[0],
    )


def render(rows: list[FloorFigures]) -> str:
    """The table, one line per image."""
    header = [
        "image",
        "platform",
        "before MB",
        "after MB",
        "floor MB",
        "floor tar MB",
        "beyond floor MB",
        "image/floor",
        "image/floor tar",
        "gconv",
    ]
    lines = [header]
    for r in rows:
        lines.append(
            [
                r.variant,
                r.platform,
                f"{r.before / MB:.2f}",
                f"{r.after / MB:.2f}",
                f"{r.floor / MB:.2f}",
                f"{r.floor_tar / MB:.2f}",
                f"{r.kept_beyond / MB:.3f}",
                f"{r.ratio:.3f}",
                f"{r.tar_ratio:.3f}",
                r.gconv,
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines]
    text.append(
        f"goal: image/floor <= {GOAL} (MB = 10^6 bytes; image = config and uncompressed layers)"
    )
    return "\n".join(text) + "\n"


async def main_async(work: Path) -> list[FloorFigures]:
    """Every distroless image with a floor, both platforms."""
    release = build_standin_release(work / "standin")
    falco_catalog = standin_catalog(work / "catalog" / "falco", release, pins=pins_of(release))
    hello_release = build_hello_release(work / "hello-standin" / "root")
    hello_catalog = work / "catalog" / "hello"
    shutil.rmtree(hello_catalog, ignore_errors=True)
    shutil.copytree(HELLO_CATALOG, hello_catalog)
    (hello_catalog / "artifacts.lock.toml").unlink(missing_ok=True)  # its checksums vouch
    rows: list[FloorFigures | None] = []
    with serve(release.root) as falco_url, serve(hello_release.root) as hello_url:
        hello_options: dict[str, Any] = {
            "variants": ["hello"],
            "version": hello_release.version,
            "mirrors": [f"https://{HELLO_HOST}={hello_url}/{HELLO_HOST}"],
        }
        log = (work / "floor-dagger.log").open("w")
        async with dagger.connection(dagger.Config(log_output=log, timeout=None)):
            await locked(hello_catalog, **hello_options)  # the example commits no package lock
            falco_plan = plan(
                load_family(falco_catalog),
                variants=["falco"],
                version=release.falco_version,
                mirrors=mirrors(falco_url),
            )
            hello_plan = plan(load_family(hello_catalog), **hello_options)
            plans = [(falco_plan, falco_catalog), (hello_plan, hello_catalog)]
            jobs = [
                (p, c, t) for p, c in plans for t in sorted(p.targets, key=lambda t: t.platform)
            ]
            rows = [None] * len(jobs)

            async def one(index: int, build_plan: BuildPlan, catalog: Path, t: BuildTarget) -> None:
                rows[index] = await figures(build_plan, catalog, t)

            async with anyio.create_task_group() as group:
                for index, job in enumerate(jobs):
                    group.start_soon(one, index, *job)
        log.close()
    return [r for r in rows if r is not None]


def main(argv: list[str] | None = None) -> int:
    """Print the table (and write JSON when asked)."""
    parser = argparse.ArgumentParser(prog="bench/floor", description=__doc__)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="scratch directory")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    args.work.mkdir(parents=True, exist_ok=True)
    rows = anyio.run(main_async, args.work)
    print(render(rows), end="")
    if args.json is not None:
        data = [{**asdict(r), "ratio": r.ratio, "tar_ratio": r.tar_ratio} for r in rows]
        args.json.write_text(json.dumps(data, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
