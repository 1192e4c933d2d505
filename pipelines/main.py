"""The Dagger module: ``dagger call build-all``, ``build``, ``test``, ``plan``, ``export-all``,
``lock``, ``publish-all``.

Every function takes the catalog as a directory (by default the module's ``images/``, whose
only family is used) and validates its whole request before any container runs.
"""

import tempfile
from pathlib import Path
from typing import Annotated

# No `from __future__ import annotations` here: the SDK reads Doc/DefaultPath/Ignore from the
# annotation objects, and string annotations would register every argument without them.
import dagger
from dagger import DefaultPath, Doc, Ignore, dag, function, object_type

from pipelines.catalog.loader import LoadedFamily, load_family
from pipelines.catalog.lock import LOCK_FILE_NAME
from pipelines.catalog.packages_lock import PACKAGES_LOCK_FILE_NAME
from pipelines.pins import lock_packages, pin_artifacts
from pipelines.plan import BuildPlan, plan, render_plan
from pipelines.release.floating import MoveFloatingTags
from pipelines.release.publish import ReleaseSteps, digests_json, publish_release
from pipelines.release.scan_report import check_gate_severity
from pipelines.release.tool_images import (
    DEFAULT_COSIGN_IMAGE,
    DEFAULT_SYFT_IMAGE,
    DEFAULT_TRIVY_IMAGE,
    ToolImages,
)
from pipelines.results import BuildResult
from pipelines.run import (
    DEFAULT_TOOLS_IMAGE,
    build_all,
    build_target,
    oci_tarballs,
)
from pipelines.scan_gate import ScanGate
from pipelines.smoke.checks import SmokeTestFailure, render_smoke_report, run_smoke_tests

Catalog = Annotated[
    dagger.Directory,
    DefaultPath("images"),
    Ignore(["**/__pycache__", "schema"]),
    Doc(
        "The image family's catalog directory (family.toml, variants/, artifacts.lock.toml), "
        "or a directory holding exactly one such family (default: the module's images/)."
    ),
]
Version = Annotated[str, Doc("Release version, e.g. 1.2.3 (default: the catalog's).")]
Variants = Annotated[list[str] | None, Doc("Variants to build (default: all).")]
Platforms = Annotated[list[str] | None, Doc("Platforms, e.g. linux/arm64 (default: all).")]
Params = Annotated[
    list[str] | None,
    Doc("Variant parameters, KEY=VALUE or VARIANT.KEY=VALUE (e.g. release=buster)."),
]
Mirrors = Annotated[
    list[str] | None,
    Doc("URL prefix rewrites, PREFIX=REPLACEMENT (e.g. https://downloads.example.org=http://m)."),
]
Artifacts = Annotated[
    list[dagger.File] | None,
    Doc("Local release artifacts used instead of downloads with the same file name (verified)."),
]
ToolsImage = Annotated[str, Doc("Debian image the pipeline's own steps run in.")]
GzipSizes = Annotated[
    bool,
    Doc(
        "Also measure each image's gzip size (what a pull downloads): one gzip export per "
        "image, on one CPU in the engine (default: the unpacked size only)."
    ),
]


async def load_catalog(catalog: dagger.Directory) -> tuple[LoadedFamily, dagger.Directory]:
    """The family a catalog directory holds, read from a temporary export (removed after
    reading), and the Dagger directory of that family (a subdirectory for ``images/``)."""
    with tempfile.TemporaryDirectory(prefix="catalog-") as tmp:
        await catalog.export(tmp)
        family = load_family(Path(tmp))
        inside = family.directory.relative_to(tmp).as_posix()
    return family, catalog if inside == "." else catalog.directory(inside)


async def make_plan(
    catalog: dagger.Directory,
    version: str,
    variants: list[str] | None,
    platforms: list[str] | None,
    params: list[str] | None,
    mirrors: list[str] | None,
) -> tuple[BuildPlan, dagger.Directory]:
    """The validated plan of a request (raises InputError/CatalogError before any build), and
    the family directory its files are copied from."""
    family, family_dir = await load_catalog(catalog)
    build_plan = plan(
        family,
        variants=variants or None,
        platforms=platforms or None,
        version=version or None,
        params=params or (),
        mirrors=mirrors or (),
    )
    return build_plan, family_dir


async def built(
    catalog: dagger.Directory,
    version: str,
    variants: list[str] | None,
    platforms: list[str] | None,
    params: list[str] | None,
    mirrors: list[str] | None,
    artifacts: list[dagger.File] | None,
    tools_image: str,
    gzip_sizes: bool = False,
) -> BuildResult:
    """Plan, build and smoke-test a request; raises BuildFailed unless every image passed."""
    build_plan, family_dir = await make_plan(catalog, version, variants, platforms, params, mirrors)
    return await build_all(
        build_plan,
        family_dir,
        tools_image=tools_image,
        local_artifacts=artifacts or (),
        gzip_sizes=gzip_sizes,
    )


@object_type
class ImageFamily:
    """Build, smoke-test and publish a family of container images described by a catalog."""

    @function
    async def plan(
        self,
        catalog: Catalog,
        version: Version = "",
        variants: Variants = None,
        platforms: Platforms = None,
        params: Params = None,
        mirrors: Mirrors = None,
    ) -> str:
        """Print the build matrix (variant x platform) with tags, then every artifact URL the
        builds would download and how it is verified; builds nothing."""
        build_plan, _ = await make_plan(catalog, version, variants, platforms, params, mirrors)
        return render_plan(build_plan, build_plan.artifacts)

    @function
    async def build(
        self,
        catalog: Catalog,
        variant: Annotated[str, Doc("The variant to build (`plan` lists them).")],
        platform: Annotated[str, Doc("The platform, e.g. linux/arm64.")] = "linux/amd64",
        version: Version = "",
        params: Params = None,
        mirrors: Mirrors = None,
        artifacts: Artifacts = None,
        tools_image: ToolsImage = DEFAULT_TOOLS_IMAGE,
    ) -> dagger.Container:
        """Build one variant for one platform and return its container, without smoke tests (see
        test and build-all), e.g. `build --variant hello export --path hello.tar`."""
        build_plan, family_dir = await make_plan(
            catalog, version, [variant], [platform], params, mirrors
        )
        [target] = build_plan.targets
        return await build_target(
            build_plan, target, family_dir, tools_image=tools_image, local_artifacts=artifacts or ()
        )

    @function
    async def test(
        self,
        catalog: Catalog,
        variant: Annotated[str, Doc("The variant whose smoke tests to run.")],
        container: Annotated[dagger.Container, Doc("The image to test (built anywhere).")],
        platform: Annotated[str, Doc("The image's platform.")] = "linux/amd64",
        version: Version = "",
        params: Params = None,
        tools_image: ToolsImage = DEFAULT_TOOLS_IMAGE,
    ) -> str:
        """Run a variant's smoke tests against a given container (e.g. one pulled from a
        registry) and return the results; fails naming each failed check."""
        build_plan, _ = await make_plan(catalog, version, [variant], [platform], params, None)
        [target] = build_plan.targets
        report = await run_smoke_tests(target, container, tools_image)
        if not report.passed:
            raise SmokeTestFailure(report)
        return render_smoke_report(report)

    @function
    async def build_all(
        self,
        catalog: Catalog,
        version: Version = "",
        variants: Variants = None,
        platforms: Platforms = None,
        params: Params = None,
        mirrors: Mirrors = None,
        artifacts: Artifacts = None,
        tools_image: ToolsImage = DEFAULT_TOOLS_IMAGE,
        gzip_sizes: GzipSizes = False,
    ) -> str:
        """Build every variant for every platform concurrently, smoke-test each, and return the
        report; fails (with the report) unless every image passed."""
        result = await built(
            catalog,
            version,
            variants,
            platforms,
            params,
            mirrors,
            artifacts,
            tools_image,
            gzip_sizes,
        )
        return result.render()

    @function
    async def export_all(
        self,
        catalog: Catalog,
        version: Version = "",
        variants: Variants = None,
        platforms: Platforms = None,
        params: Params = None,
        mirrors: Mirrors = None,
        artifacts: Artifacts = None,
        tools_image: ToolsImage = DEFAULT_TOOLS_IMAGE,
        gzip_sizes: GzipSizes = False,
    ) -> dagger.Directory:
        """Like build-all, and return a directory with one multi-platform OCI tarball per variant
        and report.txt (e.g. `dagger call export-all export --path out`)."""
        result = await built(
            catalog,
            version,
            variants,
            platforms,
            params,
            mirrors,
            artifacts,
            tools_image,
            gzip_sizes,
        )
        return oci_tarballs(result, tools_image)

    # Never served from Dagger's function cache (7 days by default): a re-run must read the
    # mirror afresh to pick up updates.
    @function(cache="never")  # type: ignore[call-overload, untyped-decorator]
    async def lock(
        self,
        catalog: Catalog,
        version: Version = "",
        params: Params = None,
        mirrors: Mirrors = None,
        artifacts: Artifacts = None,
        tools_image: ToolsImage = DEFAULT_TOOLS_IMAGE,
        trust_unverified: Annotated[
            bool,
            Doc(
                "Also pin artifacts that no signature or checksums file vouches for, as "
                "downloaded (trust on first use: review the diff)."
            ),
        ] = False,
    ) -> dagger.Directory:
        """Pin a version: download and verify every artifact of every variant and platform
        (sha256 in artifacts.lock.toml; existing pins must still match), and resolve every
        Debian package set its images install, per base and platform, against the mirror's
        release, -updates and -security suites (exact versions and sha256 in packages.lock.toml).
        Returns both files, e.g. `lock --version 1.2.3 export --path images/hello`; entries of
        other versions, bases and parameters are kept."""
        family, family_dir = await load_catalog(catalog)
        build_plan = plan(
            family, version=version or None, params=params or (), mirrors=mirrors or ()
        )
        local = artifacts or ()
        artifacts_text = await pin_artifacts(
            build_plan,
            family_dir,
            family.lock,
            tools_image=tools_image,
            local_artifacts=local,
            trust_unverified=trust_unverified,
        )
        packages_text = await lock_packages(
            build_plan,
            family_dir,
            family.packages_lock,
            tools_image=tools_image,
            local_artifacts=local,
        )
        return (
            dag.directory()
            .with_new_file(LOCK_FILE_NAME, artifacts_text)
            .with_new_file(PACKAGES_LOCK_FILE_NAME, packages_text)
        )

    # dagger-io 0.19.10 accepts cache= at run time, but its typing overloads omit it.
    @function(cache="never")  # type: ignore[call-overload, untyped-decorator]
    async def publish_all(
        self,
        catalog: Catalog,
        registry: Annotated[str, Doc("Registry host[:port] to publish to, e.g. ghcr.io.")],
        namespace: Annotated[str, Doc("Namespace under the registry, e.g. my-org.")] = "",
        username: Annotated[str, Doc("Registry user name.")] = "",
        password: Annotated[dagger.Secret | None, Doc("Registry password or token.")] = None,
        version: Version = "",
        variants: Variants = None,
        platforms: Platforms = None,
        params: Params = None,
        mirrors: Mirrors = None,
        artifacts: Artifacts = None,
        tools_image: ToolsImage = DEFAULT_TOOLS_IMAGE,
        signing_key: Annotated[
            dagger.Secret | None, Doc("cosign private key: sign digests, attest SBOMs.")
        ] = None,
        signing_password: Annotated[dagger.Secret | None, Doc("The key's password.")] = None,
        fail_on: Annotated[
            ScanGate, Doc("Scan gate: the lowest severity that stops the release.")
        ] = ScanGate.CRITICAL,
        scan_db_repository: Annotated[
            str, Doc("OCI repository of the trivy DB (a mirror); default: trivy's.")
        ] = "",
        cosign_image: Annotated[str, Doc("cosign image.")] = DEFAULT_COSIGN_IMAGE,
        syft_image: Annotated[str, Doc("syft image.")] = DEFAULT_SYFT_IMAGE,
        trivy_image: Annotated[str, Doc("trivy image.")] = DEFAULT_TRIVY_IMAGE,
        move_floating_tags: Annotated[
            MoveFloatingTags,
            Doc("Floating tags (latest...): move only forwards (default), always, or never."),
        ] = MoveFloatingTags.IF_NEWER,
    ) -> str:
        """Build and smoke-test everything, scan each platform image from the engine (the gate,
        before any push), push every manifest and index by digest, sign them and attest SBOMs
        when a key is given, then create every tag (arch, exact, floating) in one last phase;
        returns the digests and what happened to each tag as JSON. Never cached."""
        gate = check_gate_severity(None if fail_on is ScanGate.NONE else fail_on.value)
        result = await built(
            catalog, version, variants, platforms, params, mirrors, artifacts, tools_image
        )
        images = await publish_release(
            result,
            registry,
            namespace=namespace,
            username=username or None,
            password=password,
            tools_image=tools_image,
            steps=ReleaseSteps(
                tools=ToolImages(cosign=cosign_image, syft=syft_image, trivy=trivy_image),
                fail_on=gate,
                scan_db_repository=scan_db_repository or None,
                signing_key=signing_key,
                signing_password=signing_password,
            ),
            move_floating=move_floating_tags,
        )
        return digests_json(images)
