"""Model of ``variant.toml``: one image of a family.

String values marked "template" may use ``{placeholders}`` (see
:mod:`pipelines.catalog.templates`): ``{version}``, ``{raw_version}``, ``{major}``,
``{minor}``, ``{patch}``, ``{<artifact>_version}`` of artifacts with a pinned
version, and the variant's parameters.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from pipelines.catalog.family import ArtifactName, PlatformStr
from pipelines.catalog.fields import (
    AbsolutePath,
    CatalogModel,
    EnvName,
    FileMode,
    HttpUrl,
    Identifier,
    NonEmptyStr,
    Slug,
)

BaseKind = Literal["image", "variant", "distroless"]

_REPOSITORY_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"


def _repository(value: str) -> str:
    if not re.fullmatch(rf"{_REPOSITORY_COMPONENT}(?:/{_REPOSITORY_COMPONENT})*", value):
        raise ValueError(
            f"{value!r} is not a valid image repository name (lowercase letters and "
            "digits separated by '.', '_', '__' or '-', components joined by '/')"
        )
    return value


RepositoryName = Annotated[str, AfterValidator(_repository)]


def _codename(value: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9-]*", value):
        raise ValueError(f"{value!r} is not a Debian release codename such as 'bookworm'")
    return value


Codename = Annotated[str, AfterValidator(_codename)]

DEBIAN_SECURITY_MIRROR = "http://deb.debian.org/debian-security"


class DistrolessFloor(CatalogModel):
    """Prune the packages' files to what the image's programs load, once every variant of the
    chain is installed: the ELF dependency closure of the roots (interpreter and DT_NEEDED
    libraries, resolved for the platform as the dynamic loader resolves them), what every
    distroless image keeps (CA bundle, time zones, os-release and debian_version,
    passwd/group/nsswitch.conf, each package's copyright file and the common licences it cites,
    dpkg status.d) and the ``keep`` globs. The chain's own files always stay. A library no
    package installs, or a package without its copyright file, fails the build."""

    roots: list[AbsolutePath] | None = Field(
        default=None,
        description="Globs of the ELF executables and shared objects whose closure is kept, "
        "e.g. a program one of the packages installs; libraries a program loads with dlopen "
        "must be roots too. Default: every ELF file the chain's artifacts and files install. "
        "Template.",
    )
    keep: list[AbsolutePath] = Field(
        default_factory=list,
        description="Globs of other package files to keep, e.g. '/etc/services' ('*' stays in "
        "one directory, '**' spans directories, a directory keeps all it holds); each must "
        "match something. Template.",
    )
    gconv: Literal["auto", "keep", "drop"] = Field(
        default="auto",
        description="glibc's iconv modules: 'auto' keeps them only when a loaded object calls "
        "iconv_open (libstdc++'s calls, for named locales only, do not count: a floor keeps "
        "no locales).",
    )


def _release_key(value: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9-]*(/[a-z0-9]+)?", value):
        raise ValueError(
            f"{value!r} is not a Debian codename, or codename/architecture such as 'buster/amd64'"
        )
    return value


ReleaseKey = Annotated[str, AfterValidator(_release_key)]


def _dpkg_option(value: str) -> str:
    if not re.fullmatch(r"--[a-z][a-z-]*(=[A-Za-z0-9,._-]+)?", value):
        raise ValueError(f"{value!r} is not a dpkg option such as '--force-breaks'")
    return value


DpkgOption = Annotated[str, AfterValidator(_dpkg_option)]


class DistrolessBase(CatalogModel):
    """A root filesystem assembled from Debian packages: no shell, no package manager."""

    release: NonEmptyStr = Field(description="Debian release codename, e.g. 'bookworm'. Template.")
    packages: list[NonEmptyStr] = Field(
        min_length=1,
        description="Debian packages unpacked into the root filesystem (their dependencies "
        "are not added automatically: list them all). Template.",
    )
    debian_mirror: HttpUrl = Field(
        default="http://deb.debian.org/debian",
        description="Debian archive of the release and its -updates suite.",
    )
    security_mirror: HttpUrl = Field(
        default="http://deb.debian.org/debian-security",
        description="Debian security archive of the release's -security suite: packages come "
        "from the release, -updates and -security, the newest version of each winning.",
    )
    floor: DistrolessFloor | None = Field(
        default=None,
        description="Prune the image to its floor (absent: every file of every package stays).",
    )


class Base(CatalogModel):
    """What the image starts from; set exactly one of ``image``, ``variant``, ``distroless``."""

    image: NonEmptyStr | None = Field(
        default=None, description="Registry image reference, e.g. 'debian:12-slim'. Template."
    )
    variant: Slug | None = Field(
        default=None,
        description="Another variant of the same family, built first for the same "
        "version and platform.",
    )
    distroless: DistrolessBase | None = Field(
        default=None, description="A distroless root filesystem made of Debian packages."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Base:
        chosen = [name for name in ("image", "variant", "distroless") if getattr(self, name)]
        if len(chosen) != 1:
            got = ", ".join(chosen) if chosen else "none"
            raise ValueError(
                f"set exactly one of base.image, base.variant or base.distroless (got: {got})"
            )
        return self

    @property
    def kind(self) -> BaseKind:
        """Which of the three kinds of base this is."""
        if self.image is not None:
            return "image"
        if self.variant is not None:
            return "variant"
        return "distroless"


class ArtifactStep(CatalogModel):
    """What every ``[[install.artifacts]]`` entry has: the artifact, and where it applies."""

    artifact: ArtifactName = Field(description="Artifact name, as in family.toml [artifacts].")
    platforms: list[PlatformStr] | None = Field(
        default=None,
        description="Only on these platforms, e.g. ['linux/amd64'] (absent: on every one).",
    )


class UnpackArtifact(ArtifactStep):
    """Unpack a tar archive (plain, gzip, xz, zstd, bzip2) or the tree a .deb installs (without
    running dpkg) into the image."""

    action: Literal["unpack"] = Field(description="'unpack'.")
    target: AbsolutePath = Field(
        default="/", description="Directory the archive is unpacked into. Template."
    )
    strip_components: int = Field(
        default=0, ge=0, description="Leading path components dropped from every member."
    )


class MemberArtifact(ArtifactStep):
    """Install one file of a tar archive or of the tree a .deb installs (e.g. a binary from a
    release archive)."""

    action: Literal["member"] = Field(description="'member'.")
    member: NonEmptyStr = Field(
        description="Path of the member in the archive, e.g. 'tool' or 'tool-1.0/bin/tool' (in a "
        ".deb: the installed path without its leading '/', e.g. 'usr/bin/tool'). Template."
    )
    target: AbsolutePath = Field(description="Absolute path of the file in the image. Template.")
    mode: FileMode = Field(default=0o755, description="Permissions (default 0o755).")


class FileArtifact(ArtifactStep):
    """Install the downloaded file itself (e.g. a static binary or a configuration file)."""

    action: Literal["file"] = Field(description="'file'.")
    target: AbsolutePath = Field(description="Absolute path of the file in the image. Template.")
    mode: FileMode = Field(default=0o644, description="Permissions (default 0o644).")


class DebArtifact(ArtifactStep):
    """Install a Debian package with apt, together with install.apt_packages (so its
    dependencies resolve); images built on a Debian image only."""

    action: Literal["deb"] = Field(description="'deb'.")


class DpkgArtifact(ArtifactStep):
    """Install a Debian package with ``dpkg -i`` after the apt step, all of a variant's 'dpkg'
    artifacts in one call (packages apt cannot resolve, or versions it would not choose, e.g.
    an older binutils); images built on a Debian image only."""

    action: Literal["dpkg"] = Field(description="'dpkg'.")


InstallArtifact = Annotated[
    UnpackArtifact | MemberArtifact | FileArtifact | DebArtifact | DpkgArtifact,
    Field(discriminator="action"),
]


class Install(CatalogModel):
    """Build steps, run in this order: apt sources, apt packages with the 'deb' artifacts, the
    'dpkg' artifacts, the other artifacts in the order listed, remove, files, symlinks. Apt
    package lists are always cleaned afterwards."""

    artifacts: list[InstallArtifact] = Field(
        default_factory=list,
        description="Release artifacts to install, each verified first: 'unpack' a tar "
        "archive, install one archive 'member', install the downloaded 'file', or install a "
        "'deb' with apt.",
    )
    env: dict[EnvName, str] = Field(
        default_factory=dict,
        description="Environment of the install steps only (not kept in the image). Template.",
    )
    apt_packages: list[NonEmptyStr] = Field(
        default_factory=list,
        description="Debian packages installed with apt-get --no-install-recommends. Template.",
    )
    apt_packages_for: dict[ReleaseKey, list[NonEmptyStr]] = Field(
        default_factory=dict,
        description="More packages by Debian codename of the base ('buster') or codename and "
        "Debian architecture ('buster/amd64'), chosen when the image is built: for packages "
        "that only some releases or architectures have. Template.",
    )
    dpkg_options: list[DpkgOption] = Field(
        default_factory=list,
        description="Options of the one `dpkg -i` that installs the 'dpkg' artifacts, e.g. "
        "['--force-breaks'] to put an older package over a newer release's.",
    )
    apt_sources: dict[Codename, NonEmptyStr] = Field(
        default_factory=dict,
        description="Replacement /etc/apt/sources.list text, by Debian codename of the base "
        "(VERSION_CODENAME): used when the base is that release. Template.",
    )
    remove: list[AbsolutePath] = Field(
        default_factory=list,
        description="Absolute paths or globs deleted after the artifacts are installed. Template.",
    )
    symlinks: dict[AbsolutePath, NonEmptyStr] = Field(
        default_factory=dict,
        description="Symbolic links to create, link path -> target; an existing empty "
        "directory at the link path is replaced. Template (targets).",
    )


class FileSpec(CatalogModel):
    """A file copied from the catalog into the image."""

    source: NonEmptyStr = Field(
        description="Path relative to the variant directory; may point elsewhere in the "
        "family directory (e.g. '../base/files/x'), never outside it."
    )
    target: AbsolutePath = Field(description="Absolute path of the file in the image.")
    mode: FileMode = Field(default=0o644, description="Permissions, e.g. 0o755 (default 0o644).")


class ImageConfig(CatalogModel):
    """Image configuration. Absent fields are inherited from the base; env and labels merge."""

    entrypoint: list[str] | None = Field(
        default=None,
        description="ENTRYPOINT. Setting it without cmd resets cmd to [] (as Docker does). "
        "Template.",
    )
    cmd: list[str] | None = Field(default=None, description="CMD. Template.")
    env: dict[EnvName, str] = Field(
        default_factory=dict, description="Environment variables of the image. Template."
    )
    labels: dict[NonEmptyStr, str] = Field(
        default_factory=dict, description="Extra labels of the image. Template."
    )
    workdir: AbsolutePath | None = Field(default=None, description="Working directory. Template.")
    user: NonEmptyStr | None = Field(default=None, description="User (name or uid[:gid]).")


class CommandTest(CatalogModel):
    """Run a command in the image (its entrypoint is bypassed) and check the result."""

    name: NonEmptyStr = Field(description="Name shown in test reports; unique in the variant.")
    command: list[str] = Field(min_length=1, description="argv of the command. Template.")
    exit_code: int = Field(default=0, ge=0, le=255, description="Expected exit status.")
    expected_output: list[str] = Field(
        default_factory=list,
        description="Regular expressions (Python re.search) that must each match stdout or "
        "stderr. Template (substituted values are regex-escaped).",
    )
    excluded_output: list[str] = Field(
        default_factory=list,
        description="Regular expressions that must match neither stdout nor stderr. Template "
        "(substituted values are regex-escaped).",
    )


class FileTest(CatalogModel):
    """Check that a path exists (or not) and its kind."""

    path: AbsolutePath = Field(description="Absolute path in the image.")
    should_exist: bool = Field(default=True, description="Whether the path must exist.")
    executable: bool | None = Field(
        default=None, description="If set, whether the file must be executable by its owner."
    )
    is_symlink_to: str | None = Field(
        default=None, description="If set, the path must be a symbolic link to this target."
    )

    @model_validator(mode="after")
    def _only_when_existing(self) -> FileTest:
        if not self.should_exist and (self.executable is not None or self.is_symlink_to):
            raise ValueError("executable and is_symlink_to need should_exist = true")
        return self


class FileContentTest(CatalogModel):
    """Check the contents of a file."""

    path: AbsolutePath = Field(description="Absolute path of the file in the image.")
    expected_contents: list[str] = Field(
        default_factory=list,
        description="Regular expressions (Python re.search; use (?m) for ^/$ per line) that "
        "must each match the contents. Template (substituted values are regex-escaped).",
    )
    excluded_contents: list[str] = Field(
        default_factory=list,
        description="Regular expressions that must not match the contents. Template "
        "(substituted values are regex-escaped).",
    )

    @model_validator(mode="after")
    def _something_to_check(self) -> FileContentTest:
        if not self.expected_contents and not self.excluded_contents:
            raise ValueError("set expected_contents or excluded_contents (or both)")
        return self


class MetadataTest(CatalogModel):
    """Expected image configuration; only the fields that are set are checked."""

    env: dict[EnvName, str] | None = Field(
        default=None, description="Variables that must be set to exactly these values. Template."
    )
    labels: dict[NonEmptyStr, str] | None = Field(
        default=None, description="Labels that must have exactly these values. Template."
    )
    entrypoint: list[str] | None = Field(default=None, description="Exact ENTRYPOINT. Template.")
    cmd: list[str] | None = Field(default=None, description="Exact CMD. Template.")
    user: str | None = Field(default=None, description="Exact user.")
    workdir: str | None = Field(default=None, description="Exact working directory.")


class ElfTest(CatalogModel):
    """Check that a binary is an ELF file for the platform being built."""

    path: AbsolutePath = Field(
        description="Binary whose ELF e_machine must match the target platform."
    )


class LoadTest(CatalogModel):
    """Have the image's own dynamic loader load ELF files with every library they need and bind
    their symbols, without running them (what ``ldd -r`` does): proves that a program or a plugin
    it loads with dlopen will load in the image. Runs in the image (emulated for a foreign
    platform); needs no shell."""

    path: AbsolutePath = Field(
        description="ELF executable or shared object; a glob ('*', '?') loads every match and "
        "fails when nothing matches, e.g. '/usr/lib/app/plugins/*.so'. Template."
    )
    loader: AbsolutePath | None = Field(
        default=None,
        description="Dynamic loader to run (default: glibc's for the platform, e.g. "
        "/lib64/ld-linux-x86-64.so.2 on linux/amd64).",
    )
    bind_symbols: bool = Field(
        default=True,
        description="Also fail on an undefined symbol; set false for a plugin that takes "
        "symbols from the program that loads it.",
    )


class SecurityUpdatesTest(CatalogModel):
    """No pending security updates, without a CVE database: every installed Debian package (the
    dpkg status file, or the status.d records of a distroless image) is at least at the version
    its release's security suite has. A pending fix fails the check with the package, the
    installed and the fixed version. The suite's signed Packages index for the image's
    architecture is fetched with apt when the check runs (cached for at most an hour)."""

    mirror: HttpUrl = Field(
        default=DEBIAN_SECURITY_MIRROR, description="Debian security archive. Template."
    )
    suite: NonEmptyStr | None = Field(
        default=None,
        description="Security suite (default: '<codename>-security', with the codename of the "
        "image's /etc/os-release). Template.",
    )
    components: list[NonEmptyStr] = Field(
        default_factory=lambda: ["main"], min_length=1, description="Archive components."
    )
    from_image_sources: bool = Field(
        default=False,
        description="Take the security suites from the image's own apt sources instead (entries "
        "whose suite ends in '-security' or '/updates', e.g. buster's from a snapshot); leave "
        "mirror and suite out then.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> SecurityUpdatesTest:
        custom = self.suite is not None or self.mirror != DEBIAN_SECURITY_MIRROR
        if self.from_image_sources and custom:
            raise ValueError(
                "from_image_sources takes the suites from the image: drop mirror and suite"
            )
        return self


class SizeBudget(CatalogModel):
    """Upper bounds on the image size, in megabytes (10^6 bytes)."""

    max_uncompressed_mb: float | None = Field(
        default=None, gt=0, description="Maximum total size of the uncompressed layers."
    )
    max_compressed_mb: float | None = Field(
        default=None, gt=0, description="Maximum total size of the compressed layers."
    )


class Tests(CatalogModel):
    """Smoke tests of the image (container-structure-test vocabulary); not inherited."""

    commands: list[CommandTest] = Field(default_factory=list, description="Command tests.")
    files: list[FileTest] = Field(default_factory=list, description="File existence tests.")
    file_contents: list[FileContentTest] = Field(
        default_factory=list, description="File content tests."
    )
    metadata: MetadataTest | None = Field(default=None, description="Image configuration test.")
    elf: list[ElfTest] = Field(default_factory=list, description="Binary architecture tests.")
    loads: list[LoadTest] = Field(
        default_factory=list, description="Dynamic loading tests (programs and plugins)."
    )
    size: SizeBudget | None = Field(default=None, description="Image size budget.")
    security_updates: SecurityUpdatesTest | None = Field(
        default=None, description="Pending security updates must be none."
    )

    @model_validator(mode="after")
    def _unique_command_names(self) -> Tests:
        names = [test.name for test in self.commands]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"command test names must be unique: {', '.join(duplicates)}")
        return self


class Variant(CatalogModel):
    """One image of a family (``variants/<name>/variant.toml``)."""

    name: Slug = Field(description="Name of the variant; must equal its directory name.")
    description: NonEmptyStr = Field(
        description="What this image is for (label org.opencontainers.image.description)."
    )
    repository: RepositoryName = Field(
        description="Image repository name without registry, e.g. 'hello'."
    )
    tags: list[NonEmptyStr] = Field(
        min_length=1,
        description="Tag templates, e.g. ['{version}', 'latest']. Tags without {version} "
        "(latest, {major}.{minor}...) are only published for final releases; '+' becomes '-'.",
    )
    parameters: dict[Identifier, str] = Field(
        default_factory=dict,
        description="Parameters and their default values, e.g. {release = 'buster'}; "
        "callers override them with 'key=value'. Available as {key}.",
    )
    base: Base = Field(description="What the image is built on.")
    install: Install = Field(default_factory=Install, description="Build steps.")
    files: list[FileSpec] = Field(default_factory=list, description="Files copied into the image.")
    image: ImageConfig = Field(default_factory=ImageConfig, description="Image configuration.")
    tests: Tests = Field(default_factory=Tests, description="Smoke tests.")
