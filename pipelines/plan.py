"""The build plan: which images to build, for which platforms, with which tags.

:func:`plan` validates every input (variants, platforms, version, parameters,
mirrors) and renders every template up front, so that a mistake is reported
before any container is built.  The Dagger code then only reads the plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from pipelines.catalog.artifacts import ArtifactRef, KeyRef, artifact_urls
from pipelines.catalog.loader import LoadedFamily, LoadedVariant
from pipelines.catalog.mirrors import Mirror, apply_mirrors, parse_mirrors
from pipelines.catalog.packages_lock import PackageSet, epoch_of
from pipelines.catalog.params import ParamOverride, check_overrides, describe, parse_params
from pipelines.catalog.params import resolve_params as resolve_variant_params
from pipelines.catalog.render import RenderError, placeholder_values, render_variant, variant_tags
from pipelines.catalog.variant import Base, ImageConfig, InstallArtifact, Tests, Variant
from pipelines.errors import CatalogError, InputError
from pipelines.platforms import elf_machine, select_platforms
from pipelines.versions import Version, parse_version


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class ResolvedFile(_Frozen):
    """A catalog file to copy into the image."""

    source: Path = Field(description="Absolute path of the file on disk.")
    family_path: str = Field(
        description="The same file as a POSIX path relative to the family directory."
    )
    target: str = Field(description="Absolute path in the image.")
    mode: int = Field(description="Permissions.")


class PlannedArtifact(_Frozen):
    """One ``[[install.artifacts]]`` step and the artifact it installs, for one platform."""

    step: InstallArtifact = Field(description="The install step, rendered.")
    ref: ArtifactRef = Field(description="Where the artifact comes from and how it is verified.")


class Layer(_Frozen):
    """One variant of a target's chain, rendered for the target's version and platform."""

    variant: str = Field(description="Variant name.")
    directory: Path = Field(description="Variant directory.")
    params: dict[str, str] = Field(description="Parameter values used to render it.")
    spec: Variant = Field(description="The variant with every template rendered.")
    files: tuple[ResolvedFile, ...] = Field(description="Files to copy, in catalog order.")
    artifacts: tuple[PlannedArtifact, ...] = Field(
        description="install.artifacts for the target's platform, in catalog order."
    )
    installs_packages: bool = Field(
        description="Whether the layer installs Debian packages (a distroless root's, or apt "
        "packages and 'deb' artifacts on a Debian image): they come from the package lock."
    )
    packages: PackageSet | None = Field(
        description="The layer's locked Debian packages for this base and platform, if locked."
    )


class BuildTarget(_Frozen):
    """One image to build: a variant for one platform."""

    variant: str = Field(description="Variant name.")
    platform: str = Field(description="Platform, e.g. 'linux/amd64'.")
    repository: str = Field(description="Image repository name (no registry).")
    tags: tuple[str, ...] = Field(description="Tags to publish, exact first as in the catalog.")
    base_chain: tuple[str, ...] = Field(
        description="Variants to build in order, root first, ending with this one."
    )
    root_base: Base = Field(description="Rendered base of the chain's root: image or distroless.")
    base_key: str = Field(
        description="The root base as the package lock names it: the image reference, or "
        "'distroless:<release>'."
    )
    layers: tuple[Layer, ...] = Field(description="The chain's variants, rendered, root first.")
    image: ImageConfig = Field(
        description="Effective configuration of the final image: the chain's configurations "
        "merged, with the OCI labels. None fields are inherited from the root base image."
    )
    tests: Tests = Field(description="The variant's smoke tests, rendered.")
    elf_machine: int = Field(description="ELF e_machine expected of binaries (62 for amd64).")

    @property
    def artifacts(self) -> tuple[ArtifactRef, ...]:
        """Every artifact the target's chain installs, once each, root first."""
        refs = {a.ref.key: a.ref for layer in self.layers for a in layer.artifacts}
        return tuple(refs.values())

    @property
    def references(self) -> tuple[str, ...]:
        """``repository:tag`` for every tag."""
        return tuple(f"{self.repository}:{tag}" for tag in self.tags)


class BuildPlan(_Frozen):
    """Everything to build for one release, in build order."""

    family: str = Field(description="Family name.")
    family_directory: Path = Field(description="Directory the family was loaded from.")
    version: str = Field(description="Release version.")
    is_final: bool = Field(description="True for a final release (floating tags published).")
    variants: tuple[str, ...] = Field(description="Selected variants, in build order.")
    platforms: tuple[str, ...] = Field(description="Selected platforms, in family order.")
    params: tuple[str, ...] = Field(description="Parameter overrides as given.")
    mirrors: tuple[str, ...] = Field(description="Mirrors as given.")
    signing_key: KeyRef | None = Field(
        description="The family's signing key (URL with mirrors applied, pinned fingerprint)."
    )
    targets: tuple[BuildTarget, ...] = Field(
        description="Variants in build order, each for every platform in family order."
    )
    source_date_epoch: int = Field(
        description="Time every image's config and build-made files carry: the package lock's "
        "date (0 without one), so that the same inputs give the same image digests."
    )

    @property
    def artifacts(self) -> tuple[ArtifactRef, ...]:
        """Every artifact the plan downloads, once each, in plan order."""
        refs = {ref.key: ref for target in self.targets for ref in target.artifacts}
        return tuple(refs.values())


def plan(
    family: LoadedFamily,
    variants: Sequence[str] | None = None,
    platforms: Sequence[str] | None = None,
    version: str | None = None,
    params: Sequence[str] = (),
    mirrors: Sequence[str] = (),
) -> BuildPlan:
    """Validate the request and produce the ordered build matrix.

    ``variants``/``platforms``: ``None`` or empty selects all.  ``version``:
    ``None`` means the family's default version.  ``params``: ``KEY=VALUE`` or
    ``VARIANT.KEY=VALUE``.  ``mirrors``: ``PREFIX=REPLACEMENT``.  Raises
    :class:`~pipelines.errors.InputError` for any invalid input. Layers carry their locked
    Debian packages when the package lock has them (see :func:`check_packages_locked`).
    """
    release = parse_version(version if version is not None else family.family.default_version)
    selected = order_variants(family, variants)
    chosen_platforms = select_platforms(platforms, family.family.platforms)
    overrides = parse_params(params)
    parsed_mirrors = parse_mirrors(mirrors)
    in_scope = {loaded.name: loaded.variant for name in selected for loaded in family.chain(name)}
    check_overrides(overrides, list(in_scope.values()), family.variant_names)
    # Each variant in scope is rendered once, with its parameter values, for every platform.
    rendered = {
        name: _render(family, family.variant(name), release, overrides) for name in in_scope
    }

    targets = []
    for name in selected:
        chain = family.chain(name)
        own_spec, own_params = rendered[name]
        tags = _tags(family, chain[-1], release, own_params)
        root = rendered[chain[0].name][0].base
        key = _base_key(root)
        for platform in chosen_platforms:
            layers = tuple(
                _layer(family, loaded, *rendered[loaded.name], release, platform, parsed_mirrors)
                for loaded in chain
            )
            layers = tuple(_with_packages(family, layer, key, platform) for layer in layers)
            targets.append(
                BuildTarget(
                    variant=name,
                    platform=platform,
                    repository=own_spec.repository,
                    tags=tags,
                    base_chain=tuple(loaded.name for loaded in chain),
                    root_base=layers[0].spec.base,
                    base_key=key,
                    layers=layers,
                    image=_effective_image(family, layers, release),
                    tests=own_spec.tests,
                    elf_machine=elf_machine(platform).code,
                )
            )
    _check_unique_references(family, targets, overrides)
    signing = family.family.signing_key
    return BuildPlan(
        family=family.family.name,
        family_directory=family.directory,
        version=str(release),
        is_final=release.is_final,
        variants=selected,
        platforms=chosen_platforms,
        params=tuple(params),
        mirrors=tuple(mirrors),
        signing_key=(
            KeyRef(url=apply_mirrors(signing.url, parsed_mirrors), fingerprint=signing.fingerprint)
            if signing
            else None
        ),
        targets=tuple(targets),
        source_date_epoch=epoch_of(family.packages_lock.date),
    )


def order_variants(family: LoadedFamily, requested: Sequence[str] | None) -> tuple[str, ...]:
    """Requested variants (all if ``None``/empty), bases before the variants built on them,
    otherwise in catalog order."""
    for name in requested or ():
        family.variant(name)  # unknown name: InputError listing the known ones
    wanted = set(requested) if requested else set(family.variant_names)
    ordered: list[str] = []
    for loaded in family.variants:
        for member in family.chain(loaded.name):
            if member.name in wanted and member.name not in ordered:
                ordered.append(member.name)
    return tuple(ordered)


def _base_key(root: Base) -> str:
    if root.distroless is not None:
        return f"distroless:{root.distroless.release}"
    assert root.image is not None
    return root.image


def _with_packages(family: LoadedFamily, layer: Layer, base_key: str, platform: str) -> Layer:
    """``layer`` with its locked Debian packages, when it installs any."""
    if not layer.installs_packages:
        return layer
    packages = family.packages_lock.lookup(layer.variant, base_key, platform)
    return layer.model_copy(update={"packages": packages})


def _installs_packages(spec: Variant) -> bool:
    install = spec.install
    debs = any(step.action == "deb" for step in install.artifacts)
    return bool(spec.base.distroless or install.apt_packages or install.apt_packages_for or debs)


def check_packages_locked(build_plan: BuildPlan) -> None:
    """Raise InputError naming every layer whose Debian packages the package lock lacks, and
    the command that locks them: builds install locked packages only."""
    missing = sorted(
        {
            f"{layer.variant} on {target.base_key} for {target.platform}"
            for target in build_plan.targets
            for layer in target.layers
            if layer.installs_packages and layer.packages is None
        }
    )
    if missing:
        request = f" --version {build_plan.version}"
        request += "".join(f" --params {p}" for p in build_plan.params)
        raise InputError(
            f"no locked Debian packages (packages.lock.toml) for {'; '.join(missing)}: run "
            f"`lock{request}` and export its result into the catalog directory, e.g. "
            f"`dagger call lock{request} export --path images/{build_plan.family}`"
        )


def _render(
    family: LoadedFamily,
    loaded: LoadedVariant,
    release: Version,
    overrides: Sequence[ParamOverride],
) -> tuple[Variant, dict[str, str]]:
    """The variant rendered for ``release`` with its parameter values: the one place where
    templates are rendered and checked (a bad template is the catalog's error; with caller
    parameters in play, the caller's)."""
    values = resolve_variant_params(loaded.variant, overrides)
    try:
        spec = render_variant(loaded.variant, placeholder_values(family.family, release, values))
    except RenderError as error:
        missing = family.family.missing_series(release)
        used = [n for n in family.family.series_names() if "{" + n + "}" in str(error)]
        if missing and used:
            raise InputError(
                f"variant {loaded.name!r} uses {{{used[0]}}}, but {missing}: add it"
            ) from None
        raise _render_error(loaded, values, error) from None
    return spec, values


def _layer(
    family: LoadedFamily,
    loaded: LoadedVariant,
    spec: Variant,
    values: dict[str, str],
    release: Version,
    platform: str,
    mirrors: Sequence[Mirror],
) -> Layer:
    root = family.directory.resolve()
    return Layer(
        installs_packages=_installs_packages(spec),
        packages=None,
        variant=loaded.name,
        directory=loaded.directory,
        params=values,
        spec=spec,
        files=tuple(
            ResolvedFile(
                source=loaded.source_path(f),
                family_path=loaded.source_path(f).relative_to(root).as_posix(),
                target=f.target,
                mode=f.mode,
            )
            for f in spec.files
        ),
        artifacts=tuple(
            PlannedArtifact(
                step=step,
                ref=artifact_urls(
                    family.family, step.artifact, release, platform, mirrors, lock=family.lock
                ),
            )
            for step in spec.install.artifacts
            if step.platforms is None or platform in step.platforms
        ),
    )


def _tags(
    family: LoadedFamily, loaded: LoadedVariant, release: Version, values: dict[str, str]
) -> tuple[str, ...]:
    try:
        return variant_tags(
            loaded.variant, release, placeholder_values(family.family, release, values)
        )
    except RenderError as error:
        raise _render_error(loaded, values, error) from None


def _render_error(
    loaded: LoadedVariant, values: dict[str, str], error: RenderError
) -> CatalogError | InputError:
    if values == loaded.variant.parameters:  # the catalog's own defaults: the catalog is wrong
        return CatalogError.from_problems(loaded.file, error.problems)
    details = "; ".join(f"{field}: {message}" for field, message in error.problems)
    return InputError(f"variant {loaded.name!r} with {describe(values)}: {details}")


def _effective_image(
    family: LoadedFamily, layers: Sequence[Layer], release: Version
) -> ImageConfig:
    own = layers[-1].spec
    meta = family.family
    labels = {
        "org.opencontainers.image.source": meta.source,
        "org.opencontainers.image.url": meta.url,
        "org.opencontainers.image.vendor": meta.vendor,
        "org.opencontainers.image.licenses": meta.licenses,
        "org.opencontainers.image.authors": meta.authors,
        **meta.labels,
    }
    env: dict[str, str] = {}
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    workdir: str | None = None
    user: str | None = None
    for layer in layers:
        config = layer.spec.image
        env.update(config.env)
        labels.update(config.labels)
        if config.entrypoint is not None:
            entrypoint = config.entrypoint
            cmd = [] if config.cmd is None else config.cmd  # Docker resets CMD with ENTRYPOINT
        elif config.cmd is not None:
            cmd = config.cmd
        workdir = config.workdir if config.workdir is not None else workdir
        user = config.user if config.user is not None else user
    labels.update(
        {
            # These describe the final image, whatever a base variant said...
            "org.opencontainers.image.title": own.repository,
            "org.opencontainers.image.description": own.description,
            "org.opencontainers.image.version": str(release),
            # ...unless the variant itself sets them.
            **own.image.labels,
        }
    )
    return ImageConfig(
        entrypoint=entrypoint, cmd=cmd, env=env, labels=labels, workdir=workdir, user=user
    )


def _check_unique_references(
    family: LoadedFamily, targets: Sequence[BuildTarget], overrides: Sequence[ParamOverride]
) -> None:
    """Two variants must never publish the same ``repository:tag``: with the catalog's own
    parameters that is the catalog's error, with the caller's, the caller's."""
    owners: dict[str, str] = {}
    for target in targets:
        for reference in target.references:
            owner = owners.setdefault(reference, target.variant)
            if owner == target.variant:
                continue
            if not overrides:
                raise CatalogError(
                    family.variant(target.variant).file,
                    "tags",
                    f"{reference} is also a tag of variant {owner!r}: each variant needs "
                    "its own repository or tags",
                )
            raise InputError(
                f"variants {owner!r} and {target.variant!r} would both publish "
                f"{reference}; change their parameters"
            )


def render_plan(build_plan: BuildPlan, artifacts: Sequence[ArtifactRef] = ()) -> str:
    """A readable table of the plan: one line per target, then the artifacts to download."""
    kind = "final release" if build_plan.is_final else "pre-release"
    header = (
        f"family {build_plan.family}, version {build_plan.version} ({kind}): "
        f"{len(build_plan.targets)} image(s) for {', '.join(build_plan.platforms)}"
    )
    rows = [("#", "VARIANT", "PLATFORM", "BUILT ON", "TAGS")]
    for index, target in enumerate(build_plan.targets, start=1):
        rows.append(
            (
                str(index),
                target.variant,
                target.platform,
                " > ".join([_describe_base(target.root_base), *target.base_chain[:-1]]),
                " ".join(target.references) or "(none)",
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    lines = [header]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    if artifacts:
        lines += ["", "ARTIFACTS (each verified before use)"]
        for ref in artifacts:
            lines.append(f"{ref.name} {ref.version} {ref.platform}  {ref.url}")
            lines += [f"  {check}" for check in _checks(ref)]
    return "\n".join(lines) + "\n"


def _checks(ref: ArtifactRef) -> list[str]:
    checks = [f"sha256 {ref.sha256_pin} (lock file)"] if ref.sha256_pin else []
    if ref.signature_url:
        checks.append(f"signature {ref.signature_url}")
    if ref.checksums_url:
        checks.append(f"checksums {ref.checksums_url}")
    return checks or ["nothing to verify with: pin it with `lock`"]


def _describe_base(base: Base) -> str:
    if base.image is not None:
        return base.image
    if base.distroless is not None:
        return f"distroless {base.distroless.release}"
    return str(base.variant)
