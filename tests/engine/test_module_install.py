"""The install step of Dagger v0.19.10's Python runtime, replayed on the host without a registry.

On `dagger call`, the runtime (sdk/python/runtime/main.go and discovery.go at v0.19.10) gets the
module's context directory as the engine uploads it (core/schema/modulesource.go: include
``<root>/dagger.json``, ``<root>/**/*`` and dagger.json's ``include``, with ``gitignore=true``),
removes ``.venv`` and ``sdk`` from it, vendors the dagger-io SDK source (version 0.0.0) as
``sdk/``, and then, with no uv.lock and no requirements.lock in the module, runs
``uv pip install -e ./sdk -e .`` and ``uv pip check`` in the module's directory with uv 0.9.11 and
UV_LINK_MODE=copy, UV_NATIVE_TLS=1, UV_COMPILE_BYTECODE=1. Here: the upload comes from the real
engine's own filtering, the SDK from PyPI's sdist of the pinned version, uv from PyPI at the
runtime's version, and the install goes into a fresh virtualenv of the host's Python instead of
the python:3.11-slim image's system Python.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import urllib.request
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from dagger import dag

pytestmark = [pytest.mark.engine, pytest.mark.usefixtures("engine")]

REPO_ROOT = Path(__file__).resolve().parents[2]
DAGGER_JSON: dict[str, Any] = json.loads((REPO_ROOT / "dagger.json").read_text())
PYPROJECT: dict[str, Any] = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
SDK_VERSION = DAGGER_JSON["engineVersion"].removeprefix("v")
# sdk/python/runtime/images/uv/Dockerfile at v0.19.10: ghcr.io/astral-sh/uv:0.9.11
UV_VERSION = "0.9.11"
# main.go WithBase + WithInstall (UV_SYSTEM_PYTHON=1 is replaced by VIRTUAL_ENV, below)
RUNTIME_UV_ENV = {"UV_LINK_MODE": "copy", "UV_NATIVE_TLS": "1", "UV_COMPILE_BYTECODE": "1"}
# main.go WithInstall, the branch taken without uv.lock and requirements.lock
INSTALL = ["uv", "pip", "install", "-e", "./sdk", "-e", "."]
CHECK = ["uv", "pip", "check"]
# main.go New(): what the runtime keeps of the SDK's source directory (dist/ is dropped again
# before vendoring). The PyPI sdist's src/ was checked once to be the tag's, byte for byte.
SDK_KEEP = ["pyproject.toml", "src/**/*.py", "src/**/*.typed", "LICENSE", "README.md"]
# The SDK's pyproject.toml declares `[tool.uv.workspace] members = ["codegen"]` (for a dev
# dependency group): uv refuses to build ./sdk when that member is missing, and the sdist does not
# ship it. This is sdk/python/codegen/pyproject.toml at v0.19.10, verbatim; the runtime also
# vendors codegen/**/*.py and the SDK's uv.lock, which `uv pip install` never reads.
CODEGEN_PYPROJECT = """\
[project]
name = "codegen"
version = "0.0.0"
description = "Codegen for the Python SDK"
requires-python = ">= 3.10"
dependencies = ["graphql-core>=3.2.3"]

[build-system]
requires = ["uv_build>=0.8.4,<0.9.0"]
build-backend = "uv_build"
"""
PYPI_SIMPLE = "https://pypi.org/simple"
PASSED_THROUGH_ENV = [
    "PATH",
    "HOME",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
]


def cache_dir() -> Path:
    """Downloads and uv's cache: reused when present, recreated when not."""
    default = Path.home() / ".cache" / "image-family"
    path = Path(os.environ.get("IMAGE_FAMILY_CACHE") or default) / "module-install"
    path.mkdir(parents=True, exist_ok=True)
    return path


def runtime_python_version() -> str:
    """The Python the runtime picks: discovery.go findPythonVersion on ``requires-python``."""
    minimum: str = PYPROJECT["project"]["requires-python"].strip()
    assert minimum.startswith((">=", "==")), minimum
    return minimum[2:].strip()


def engine_include() -> list[str]:
    """The include patterns the engine uploads the context directory with (modulesource.go)."""
    root = "."  # the context directory (git root) is the module's root: filepath.Rel gives "."
    rebased = []
    for pattern in DAGGER_JSON.get("include", []):
        negated = pattern.startswith("!")
        path = posixpath.normpath(posixpath.join(root, pattern.removeprefix("!")))
        rebased.append(("!" if negated else "") + path)
    return [f"{root}/dagger.json", f"{root}/**/*", *rebased]


def download(url: str, sha256: str, dest: Path) -> Path:
    """``url`` into ``dest`` (kept when it already has ``sha256``)."""
    if dest.is_file() and hashlib.sha256(dest.read_bytes()).hexdigest() == sha256:
        return dest
    with urllib.request.urlopen(url, timeout=120) as response:
        body: bytes = response.read()
    assert hashlib.sha256(body).hexdigest() == sha256, f"{url}: sha256 mismatch"
    partial = dest.with_suffix(f".{os.getpid()}.part")
    partial.write_bytes(body)
    partial.replace(dest)
    return dest


def sdk_sdist() -> Path:
    """dagger-io's sdist at the pinned version, from PyPI's simple index (PEP 691 JSON)."""
    request = urllib.request.Request(
        f"{PYPI_SIMPLE}/dagger-io/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        index: dict[str, Any] = json.load(response)
    name = f"dagger_io-{SDK_VERSION}.tar.gz"
    [entry] = [f for f in index["files"] if f["filename"] == name]
    dest = cache_dir() / "pypi"
    dest.mkdir(exist_ok=True)
    return download(entry["url"], entry["hashes"]["sha256"], dest / name)


def vendor_sdk(sdist: Path, out: Path) -> None:
    """``out`` laid out as the runtime's ``sdk/``: the kept files, version 0.0.0, codegen."""
    unpacked = out.parent / f"{out.name}.unpacked"
    with tarfile.open(sdist) as tar:
        tar.extractall(unpacked, filter="data")
    [top] = unpacked.iterdir()
    for pattern in SDK_KEEP:
        for src in top.glob(pattern):
            if src.is_file():
                dst = out / src.relative_to(top)
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)
    shutil.rmtree(unpacked)
    pyproject = out / "pyproject.toml"
    text, count = re.subn(
        rf'(?m)^version = "{re.escape(SDK_VERSION)}"$', 'version = "0.0.0"', pyproject.read_text()
    )
    assert count == 1, "the sdist's pyproject.toml has no [project] version line to rewrite"
    pyproject.write_text(text)
    (out / "codegen").mkdir()
    (out / "codegen" / "pyproject.toml").write_text(CODEGEN_PYPROJECT)
    assert (out / "src" / "dagger" / "client" / "gen.py").is_file()
    assert (out / "src" / "dagger" / "mod" / "cli.py").is_file()


def uv_binary() -> Path:
    """uv at the runtime's version, from PyPI, kept in the cache."""
    target = cache_dir() / f"uv-{UV_VERSION}"
    uv = target / "bin" / "uv"
    if uv.is_file():
        return uv
    staging = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--no-deps", "--target", str(staging), f"uv=={UV_VERSION}"], check=True)
    try:
        staging.rename(target)
    except OSError:  # another run got there first
        shutil.rmtree(staging)
    return uv


@dataclass(frozen=True)
class Run:
    """One command's exit code and output (uv writes its report to stderr)."""

    argv: list[str]
    returncode: int
    output: str

    def describe(self) -> str:
        return f"$ {' '.join(self.argv)}  (exit {self.returncode})\n{self.output}"

    def words(self) -> str:
        """The output with uv's line wrapping undone."""
        return " ".join(self.output.split())


@dataclass(frozen=True)
class Runtime:
    """The runtime's tools on the host: uv, its cache and the Python the module gets."""

    uv: Path
    python: str
    tmp: Path

    def env(self, venv: Path) -> dict[str, str]:
        passed = {k: v for k, v in os.environ.items() if k in PASSED_THROUGH_ENV}
        xdg = self.tmp / "xdg-config"  # no user-level uv.toml: the runtime's container has none
        xdg.mkdir(exist_ok=True)
        return {
            **passed,
            **RUNTIME_UV_ENV,
            "PATH": f"{self.uv.parent}{os.pathsep}{passed.get('PATH', os.defpath)}",
            "UV_CACHE_DIR": str(cache_dir() / "uv-cache"),
            "XDG_CONFIG_HOME": str(xdg),
            "VIRTUAL_ENV": str(venv),
        }

    def run(self, argv: list[str], cwd: Path, venv: Path) -> Run:
        done = subprocess.run(
            argv,
            cwd=cwd,
            env=self.env(venv),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=600,
        )
        return Run(argv, done.returncode, done.stdout)

    def fresh_venv(self, path: Path) -> Path:
        made = self.run(["uv", "venv", "--python", self.python, str(path)], self.tmp, path)
        assert made.returncode == 0, made.describe()
        return path

    def install(self, module: Path, venv: Path) -> tuple[Run, Run]:
        """`uv pip install -e ./sdk -e .` then `uv pip check`, as WithInstall runs them."""
        return self.run(INSTALL, module, venv), self.run(CHECK, module, venv)

    def python_in(self, venv: Path, code: str, module: Path) -> Run:
        env = {
            **self.env(venv),
            # main.go WithSource; python.go: PascalCase of the module's name, and pyproject's
            # [project].name with "-" as "_"
            "DAGGER_MODULE": DAGGER_JSON["name"],
            "DAGGER_DEFAULT_PYTHON_PACKAGE": PYPROJECT["project"]["name"].replace("-", "_"),
            "DAGGER_MAIN_OBJECT": "".join(w.capitalize() for w in DAGGER_JSON["name"].split("-")),
        }
        done = subprocess.run(
            [str(venv / "bin" / "python"), "-c", code],
            cwd=module,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=300,
        )
        return Run(["python", "-c", "..."], done.returncode, done.stdout)


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Runtime:
    version = runtime_python_version()
    python = shutil.which(f"python{version}")
    if python is None and f"{sys.version_info[0]}.{sys.version_info[1]}" == version:
        python = sys.executable
    assert python, f"the runtime would run Python {version} (requires-python): none on PATH"
    return Runtime(uv=uv_binary(), python=python, tmp=tmp_path_factory.mktemp("runtime"))


@pytest.fixture(scope="module")
def vendored_sdk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("vendored") / "sdk"
    vendor_sdk(sdk_sdist(), out)
    return out


@pytest.fixture(scope="module")
async def upload(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The module's context directory as the engine uploads it, through the engine itself."""
    out = tmp_path_factory.mktemp("upload") / "context"
    directory = dag.host().directory(str(REPO_ROOT), include=engine_include(), gitignore=True)
    await directory.export(str(out))
    return out


def module_source(upload: Path, sdk: Path, out: Path) -> Path:
    """The runtime's view of the module: the upload minus .venv and sdk, plus the vendored SDK."""
    shutil.copytree(upload, out, symlinks=True)
    # discovery.go DirExcludes. As read, v0.19.10 tests them against Directory.entries(), which
    # lists directories with a trailing "/", so the runtime never removes them itself; the upload
    # test below shows neither arrives.
    for exclude in [".venv", "sdk"]:
        shutil.rmtree(out / exclude, ignore_errors=True)
    shutil.copytree(sdk, out / "sdk")
    return out


def relative_files(root: Path) -> list[PurePosixPath]:
    return sorted(PurePosixPath(p.relative_to(root).as_posix()) for p in root.rglob("*"))


async def test_upload_has_the_module_but_no_tests_bench_venv_or_sdk(upload: Path) -> None:
    files = relative_files(upload)
    print("uploaded:", *sorted({f.parts[0] for f in files}))
    assert (upload / "dagger.json").is_file() and (upload / "pyproject.toml").is_file()
    assert (upload / "pipelines" / "__init__.py").is_file()
    assert (upload / "images" / "falco" / "family.toml").is_file()
    # dagger.json's include is an allow-list: nothing else (no .git, scripts, CI files) travels
    assert {f.parts[0] for f in files} == {"dagger.json", "pyproject.toml", "pipelines", "images"}
    for absent in ["tests", "bench", ".venv", "sdk"]:
        assert not (upload / absent).exists(), f"{absent} is uploaded"
    assert not [f for f in files if "__pycache__" in f.parts or f.suffix == ".pyc"]


async def test_runtime_install_succeeds(
    upload: Path, vendored_sdk: Path, runtime: Runtime, tmp_path: Path
) -> None:
    module = module_source(upload, vendored_sdk, tmp_path / "src")
    venv = runtime.fresh_venv(tmp_path / "venv")
    install, check = runtime.install(module, venv)
    print(install.describe(), check.describe(), sep="\n")
    assert install.returncode == 0, install.describe()
    assert check.returncode == 0, check.describe()
    assert "All installed packages are compatible" in check.output
    assert re.search(r"^ \+ dagger-io==0\.0\.0 \(from file://.*/sdk\)$", install.output, re.M)

    loaded = runtime.python_in(
        venv,
        "import importlib.metadata, dagger.mod.cli as cli\n"
        "cls = cli.get_entry_point().load()\n"
        "assert cls.__dagger_module__ is cli.load_module()\n"
        "print(cls.__name__, importlib.metadata.version('dagger-io'))\n"
        "import dagger; print(dagger.__file__)\n",
        module,
    )
    print(loaded.describe())
    assert loaded.returncode == 0, loaded.describe()
    name_and_version, location = loaded.output.splitlines()[-2:]
    assert name_and_version == "ImageFamily 0.0.0"
    assert Path(location).is_relative_to(module / "sdk" / "src")


def pin_sdk(pyproject: str, *, keep_sources: bool) -> str:
    """``pyproject`` with dagger-io pinned in [project].dependencies, [tool.uv.sources] optional."""
    text, count = re.subn(r'(?m)^(\s*)"dagger-io",$', rf'\1"dagger-io=={SDK_VERSION}",', pyproject)
    assert count == 1, "no unpinned dagger-io in [project].dependencies"
    if not keep_sources:
        text, count = re.subn(r"(?ms)^\[tool\.uv\.sources\]\n.*?(?=^\[)", "", text)
        assert count == 1, "no [tool.uv.sources] table"
    parsed = tomllib.loads(text)
    assert f"dagger-io=={SDK_VERSION}" in parsed["project"]["dependencies"]
    assert ("sources" in parsed.get("tool", {}).get("uv", {})) is keep_sources
    return text


@pytest.mark.parametrize(
    ("keep_sources", "failing", "message"),
    [
        # before f63e683: the pin, no [tool.uv.sources]; ./sdk is the only dagger-io uv considers
        (
            False,
            "install",
            f"Because there is no version of dagger-io=={SDK_VERSION} and image-family==0.1.0 "
            f"depends on dagger-io=={SDK_VERSION}",
        ),
        # the pin beside [tool.uv.sources]: uv takes the path source and drops the version
        # specifier, so only `uv pip check` sees it
        (
            True,
            "check",
            f"The package `image-family` requires `dagger-io=={SDK_VERSION}`, "
            "but `0.0.0` is installed",
        ),
    ],
    ids=["pin-without-sources", "pin-with-sources"],
)
async def test_pinned_sdk_fails_the_runtime_install(
    upload: Path,
    vendored_sdk: Path,
    runtime: Runtime,
    tmp_path: Path,
    keep_sources: bool,
    failing: str,
    message: str,
) -> None:
    module = module_source(upload, vendored_sdk, tmp_path / "src")
    pyproject = module / "pyproject.toml"
    pyproject.write_text(pin_sdk(pyproject.read_text(), keep_sources=keep_sources))
    venv = runtime.fresh_venv(tmp_path / "venv")
    install, check = runtime.install(module, venv)
    print(install.describe(), check.describe(), sep="\n")
    if failing == "install":
        assert install.returncode != 0, install.describe()
        assert message in install.words(), install.describe()
    else:
        assert install.returncode == 0, install.describe()
        assert check.returncode != 0, check.describe()
        assert message in check.words(), check.describe()
