"""Load a family directory into validated models, or fail with a precise :class:`CatalogError`.

Layout::

    <family>/family.toml
    <family>/artifacts.lock.toml        (optional)
    <family>/variants/<name>/variant.toml
    <family>/variants/<name>/files/...  (files copied into images)

Variants are in *catalog order*: sorted by directory name.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from pipelines.catalog.artifacts import ARCHIVE_SUFFIXES, ArtifactRef, artifact_urls
from pipelines.catalog.family import Family
from pipelines.catalog.lock import LOCK_FILE_NAME, LockFile
from pipelines.catalog.mirrors import Mirror, parse_mirrors
from pipelines.catalog.packages_lock import PACKAGES_LOCK_FILE_NAME, PackagesLock
from pipelines.catalog.problems import Problem, validation_problems
from pipelines.catalog.render import RELEASE_PLACEHOLDERS
from pipelines.catalog.tags import is_floating
from pipelines.catalog.variant import BaseKind, FileSpec, Variant
from pipelines.errors import CatalogError, InputError
from pipelines.versions import Version, parse_version

FAMILY_FILE = "family.toml"
VARIANTS_DIR = "variants"
VARIANT_FILE = "variant.toml"

Model = TypeVar("Model", bound=BaseModel)


@dataclass(frozen=True)
class LoadedVariant:
    """A validated variant and where it was read from."""

    variant: Variant
    directory: Path
    file: Path

    @property
    def name(self) -> str:
        """The variant's name (also its directory name)."""
        return self.variant.name

    def source_path(self, spec: FileSpec) -> Path:
        """Absolute path of a ``[[files]]`` source on disk."""
        return (self.directory / spec.source).resolve()


@dataclass(frozen=True)
class LoadedFamily:
    """A validated family: its ``family.toml``, variants in catalog order and lock files."""

    family: Family
    variants: tuple[LoadedVariant, ...]
    lock: LockFile
    directory: Path
    packages_lock: PackagesLock = field(default_factory=PackagesLock)

    @property
    def variant_names(self) -> tuple[str, ...]:
        """Variant names in catalog order."""
        return tuple(loaded.name for loaded in self.variants)

    def variant(self, name: str) -> LoadedVariant:
        """The variant called ``name``; :class:`InputError` naming the known ones otherwise."""
        for loaded in self.variants:
            if loaded.name == name:
                return loaded
        close = difflib.get_close_matches(name, self.variant_names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise InputError(
            f"unknown variant {name!r} in family {self.family.name!r}{hint}; "
            f"known variants: {', '.join(self.variant_names)}"
        )

    def chain(self, name: str) -> tuple[LoadedVariant, ...]:
        """The variants ``name`` is built from, root first, ending with ``name`` itself.

        The only walk of the base chain: an unknown base or a cycle is a :class:`CatalogError`
        naming the variant file that refers to it.
        """
        chain = [self.variant(name)]
        while (parent := chain[0].variant.base.variant) is not None:
            if parent not in self.variant_names:
                raise CatalogError(
                    chain[0].file,
                    "base.variant",
                    f"unknown variant {parent!r}; known variants: {', '.join(self.variant_names)}",
                )
            if parent in (member.name for member in chain):
                cycle = " -> ".join([*(m.name for m in reversed(chain)), parent])
                raise CatalogError(
                    chain[0].file,
                    "base.variant",
                    f"variants build on each other in a cycle: {cycle}",
                )
            chain.insert(0, self.variant(parent))
        return tuple(chain)

    def root_kind(self, name: str) -> BaseKind:
        """Kind of base at the bottom of ``name``'s chain: a registry image or distroless."""
        return self.chain(name)[0].variant.base.kind

    def artifact_urls(
        self,
        artifact_name: str,
        version: str | Version,
        platform: str,
        mirrors: Sequence[str] | Sequence[Mirror] = (),
    ) -> ArtifactRef:
        """:func:`pipelines.catalog.artifacts.artifact_urls` with this family's lock;
        ``mirrors`` as ``PREFIX=REPLACEMENT`` strings or parsed."""
        parsed = tuple(m for m in mirrors if isinstance(m, Mirror)) + parse_mirrors(
            [m for m in mirrors if isinstance(m, str)]
        )
        return artifact_urls(self.family, artifact_name, version, platform, parsed, lock=self.lock)


def family_directory(path: Path) -> Path:
    """The family directory ``path`` names: itself (or its ``family.toml``'s directory), or,
    for a directory of catalogs such as ``images/``, the only subdirectory holding a family."""
    directory = path.parent if path.name == FAMILY_FILE else path
    if not directory.is_dir():
        raise CatalogError(directory, None, "family directory not found")
    if (directory / FAMILY_FILE).is_file():
        return directory
    families = sorted(d for d in directory.iterdir() if (d / FAMILY_FILE).is_file())
    if len(families) == 1:
        return families[0]
    if families:
        names = ", ".join(d.name for d in families)
        raise CatalogError(
            directory, None, f"holds several families ({names}): name one, e.g. {families[0]}"
        )
    raise CatalogError(directory / FAMILY_FILE, None, "file not found")


def load_family(path: Path) -> LoadedFamily:
    """Load and check the family in directory ``path`` (see :func:`family_directory`).

    Raises :class:`CatalogError` naming the file, the field and what is allowed.
    """
    directory = family_directory(path)
    family_file = directory / FAMILY_FILE
    family = _read_model(family_file, Family)
    _raise_if(family_file, _family_problems(family))

    lock_file = directory / LOCK_FILE_NAME
    lock = _read_model(lock_file, LockFile) if lock_file.exists() else LockFile()
    _raise_if(lock_file, _lock_problems(lock, family))

    packages_file = directory / PACKAGES_LOCK_FILE_NAME
    packages_lock = (
        _read_model(packages_file, PackagesLock) if packages_file.exists() else PackagesLock()
    )

    variants = _read_variants(directory)
    loaded = LoadedFamily(family, variants, lock, directory, packages_lock)
    for variant in variants:
        _raise_if(variant.file, _variant_problems(variant, loaded))
    return loaded


def _read_variants(directory: Path) -> tuple[LoadedVariant, ...]:
    variants_dir = directory / VARIANTS_DIR
    if not variants_dir.is_dir():
        raise CatalogError(variants_dir, None, "directory not found: a family needs variants")
    variants = []
    for variant_dir in sorted(variants_dir.iterdir()):
        if not variant_dir.is_dir() or variant_dir.name.startswith("."):
            continue
        variant_file = variant_dir / VARIANT_FILE
        if not variant_file.is_file():
            raise CatalogError(
                variant_dir, None, f"missing {VARIANT_FILE}: every directory in variants/ is one"
            )
        variant = _read_model(variant_file, Variant)
        if variant.name != variant_dir.name:
            raise CatalogError(
                variant_file,
                "name",
                f"{variant.name!r} must equal the variant's directory name {variant_dir.name!r}",
            )
        variants.append(LoadedVariant(variant, variant_dir, variant_file))
    if not variants:
        raise CatalogError(variants_dir, None, "no variants: add variants/<name>/variant.toml")
    return tuple(variants)


def _read_model(file: Path, model: type[Model]) -> Model:
    if not file.is_file():
        raise CatalogError(file, None, "file not found")
    try:
        data: dict[str, Any] = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise CatalogError(file, None, f"invalid TOML: {error}") from None
    except UnicodeDecodeError as error:
        raise CatalogError(file, None, f"not UTF-8 text: {error}") from None
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise CatalogError.from_problems(file, validation_problems(error, model)) from None


def _raise_if(file: Path, problems: list[Problem]) -> None:
    if problems:
        raise CatalogError.from_problems(file, problems)


def _family_problems(family: Family) -> list[Problem]:
    problems = []
    for name, source in family.artifacts.items():
        missing = [platform for platform in family.platforms if platform not in source.arch_names]
        if missing:
            problems.append(
                (
                    f"artifacts.{name}.arch_names",
                    f"no name for platform {', '.join(missing)}; every platform in "
                    f"'platforms' ({', '.join(family.platforms)}) needs one",
                )
            )
    if any(source.signature for source in family.artifacts.values()) and not family.signing_key:
        problems.append(
            ("signing_key", "required: an artifact has a 'signature' URL to verify against it")
        )
    if not problems:
        version = parse_version(family.default_version)
        for name in family.artifacts:
            for platform in family.platforms:
                ref = artifact_urls(family, name, version, platform)
                for label, url in (
                    ("signature", ref.signature_url),
                    ("checksums", ref.checksums_url),
                ):
                    if url is not None and not url.startswith(("http://", "https://")):
                        problems.append(
                            (f"artifacts.{name}.{label}", f"renders to {url!r}, not an http(s) URL")
                        )
    return sorted(set(problems), key=problems.index)


def _lock_problems(lock: LockFile, family: Family) -> list[Problem]:
    problems = []
    for index, entry in enumerate(lock.artifact):
        if entry.name not in family.artifacts:
            problems.append(
                (f"artifact[{index}].name", f"family.toml defines no artifact {entry.name!r}")
            )
        if entry.platform not in family.platforms:
            problems.append(
                (
                    f"artifact[{index}].platform",
                    f"{entry.platform!r} is not one of the family's platforms: "
                    f"{', '.join(family.platforms)}",
                )
            )
    return problems


def _variant_problems(loaded: LoadedVariant, family: LoadedFamily) -> list[Problem]:
    """What can be checked without rendering (templates are rendered, once, by the plan)."""
    variant = loaded.variant
    problems = _file_problems(loaded, family.directory)
    try:
        root = family.root_kind(loaded.name)
    except CatalogError as error:
        return [*problems, ("base.variant", error.message)]
    problems += _install_problems(variant, family.family, root)
    reserved = (
        set(RELEASE_PLACEHOLDERS)
        | set(family.family.artifact_versions())
        | family.family.series_names()
        | {f"{name}_bucket" for name, a in family.family.artifacts.items() if a.buckets}
    )
    for key in variant.parameters:
        if key in reserved:
            problems.append(
                (f"parameters.{key}", f"{key!r} is a built-in placeholder; choose another name")
            )
    if not any(not is_floating(template) for template in variant.tags):
        problems.append(
            ("tags", "at least one tag must contain {version} so that every release has its tag")
        )
    return problems


def _file_problems(loaded: LoadedVariant, family_dir: Path) -> list[Problem]:
    problems = []
    root = family_dir.resolve()
    for index, spec in enumerate(loaded.variant.files):
        field = f"files[{index}].source"
        path = loaded.source_path(spec)
        if Path(spec.source).is_absolute():
            problems.append((field, f"{spec.source!r} must be relative to the variant directory"))
        elif not path.is_relative_to(root):
            problems.append((field, f"{spec.source!r} points outside the family directory"))
        elif not path.is_file():
            problems.append((field, f"{spec.source!r} not found (looked for {path})"))
    targets = [spec.target for spec in loaded.variant.files]
    for target in sorted({t for t in targets if targets.count(t) > 1}):
        problems.append(("files", f"two files are copied to {target!r}"))
    return problems


def _install_problems(variant: Variant, family: Family, root: BaseKind) -> list[Problem]:
    problems: list[Problem] = []
    install = variant.install
    for index, step in enumerate(install.artifacts):
        field = f"install.artifacts[{index}].artifact"
        source = family.artifacts.get(step.artifact)
        if source is None:
            problems.append(
                (
                    field,
                    f"family.toml defines no artifact {step.artifact!r}; "
                    f"defined: {', '.join(family.artifacts) or 'none'}",
                )
            )
        elif step.action in ("unpack", "member") and not source.url.endswith(ARCHIVE_SUFFIXES):
            problems.append(
                (
                    field,
                    f"{step.action!r} needs a tar archive or a .deb "
                    f"({', '.join(ARCHIVE_SUFFIXES)}); "
                    f"{step.artifact!r} is {source.url.rsplit('/', 1)[-1]!r}",
                )
            )
        if step.action in ("deb", "dpkg") and root == "distroless":
            problems.append(
                (
                    f"install.artifacts[{index}].action",
                    "a distroless image has no dpkg: 'unpack' an archive instead",
                )
            )
        elif step.action in ("deb", "dpkg") and source and not source.url.endswith(".deb"):
            problems.append((field, f"{step.action!r} needs a .deb; {step.artifact!r} is not one"))
        unknown = [p for p in step.platforms or () if p not in family.platforms]
        if unknown:
            problems.append(
                (
                    f"install.artifacts[{index}].platforms",
                    f"{', '.join(unknown)} not among the family's platforms: "
                    f"{', '.join(family.platforms)}",
                )
            )
    if root == "distroless" and (
        install.apt_packages or install.apt_sources or install.apt_packages_for
    ):
        problems.append(
            (
                "install.apt_packages",
                "a distroless image has no apt: list Debian packages in "
                "base.distroless.packages of the root variant instead",
            )
        )
    return problems
