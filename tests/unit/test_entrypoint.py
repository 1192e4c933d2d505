"""The driver loader entrypoint script, run with bash and a stand-in falcoctl."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = (
    Path(__file__).resolve().parents[2]
    / "images/falco/variants/falco-driver-loader/files/docker-entrypoint.sh"
)
BASH = shutil.which("bash")
pytestmark = pytest.mark.skipif(BASH is None, reason="bash is not installed")


@pytest.fixture
def fake_falcoctl(tmp_path: Path) -> Path:
    """A falcoctl that records each call in calls.log."""
    log = tmp_path / "calls.log"
    fake = tmp_path / "falcoctl"
    fake.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\n')
    fake.chmod(0o755)
    return fake


def run(fake: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    env = {"PATH": "/usr/bin:/bin", "FALCOCTL": str(fake), "HOST_ROOT": str(fake.parent / "host")}
    result = subprocess.run(
        [str(BASH), str(SCRIPT), *args], capture_output=True, text=True, env=env, check=False
    )
    log = fake.parent / "calls.log"
    return result, log.read_text().splitlines() if log.exists() else []


def test_syntax() -> None:
    subprocess.run([str(BASH), "-n", str(SCRIPT)], check=True)


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_prints_usage_and_touches_nothing(fake_falcoctl: Path, flag: str) -> None:
    result, calls = run(fake_falcoctl, flag)
    assert result.returncode == 0
    assert result.stdout.startswith("Usage:")
    for word in ("auto", "kmod", "modern_ebpf", "--compile", "--download", "--print-env"):
        assert word in result.stdout
    assert calls == []


def test_default_is_auto_with_download_and_compile(fake_falcoctl: Path) -> None:
    result, calls = run(fake_falcoctl)
    assert result.returncode == 0, result.stderr
    assert calls == [
        "driver config --type modern_ebpf --type kmod",
        "driver install --compile=true --download=true --http-insecure=false --http-headers=",
    ]


def test_driver_and_options(fake_falcoctl: Path) -> None:
    result, calls = run(
        fake_falcoctl, "kmod", "--download", "--kernel-release", "6.1.0-13-amd64",
        "--kernel-version=1", "--http-insecure",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert calls == [
        "driver config --type kmod",
        "driver install --compile=false --download=true --http-insecure=true --http-headers= "
        "--kernelrelease=6.1.0-13-amd64 --kernelversion=1",
    ]


def test_compile_only_modern_ebpf(fake_falcoctl: Path) -> None:
    _, calls = run(fake_falcoctl, "modern_ebpf", "--compile")
    assert calls[0] == "driver config --type modern_ebpf"
    assert calls[1].startswith("driver install --compile=true --download=false")


def test_print_env_and_clean_only_call_falcoctl_once(fake_falcoctl: Path) -> None:
    assert run(fake_falcoctl, "--print-env")[1] == ["driver printenv"]
    (fake_falcoctl.parent / "calls.log").unlink()
    assert run(fake_falcoctl, "--clean")[1] == ["driver cleanup"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bogus"], "error: unknown option '--bogus'"),
        (["ebpf"], "error: unknown driver 'ebpf'"),
        (["kmod", "auto"], "error: only one driver can be given (got 'kmod' and 'auto')"),
        (["--kernel-release"], "error: --kernel-release needs a value"),
    ],
)
def test_bad_arguments_fail_with_usage(fake_falcoctl: Path, args: list[str], message: str) -> None:
    result, calls = run(fake_falcoctl, *args)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Usage:" in result.stderr
    assert calls == []


@pytest.fixture
def failing_falcoctl(tmp_path: Path) -> Path:
    """A falcoctl whose `driver config`, `cleanup` and `printenv` fail (exit 3), and that records
    every call; `driver install` succeeds."""
    log = tmp_path / "calls.log"
    fake = tmp_path / "falcoctl"
    fake.write_text(
        f'#!/bin/sh\necho "$*" >> "{log}"\n'
        'case "$2" in config|cleanup|printenv) echo "$2 refused" >&2; exit 3;; esac\n'
    )
    fake.chmod(0o755)
    return fake


def test_failing_driver_config_does_not_stop_the_install(failing_falcoctl: Path) -> None:
    """As Falco's loader: Helm's auto mode configures the driver through the Kubernetes API."""
    result, calls = run(failing_falcoctl, "kmod")
    assert result.returncode == 0, result.stderr
    assert "config refused" in result.stderr
    assert "falcoctl driver config failed: going on with the install" in result.stderr
    assert calls == [
        "driver config --type kmod",
        "driver install --compile=true --download=true --http-insecure=false --http-headers=",
    ]


@pytest.mark.parametrize(("flag", "call"), [("--clean", "cleanup"), ("--print-env", "printenv")])
def test_clean_and_print_env_exit_0_whatever_falcoctl_says(
    failing_falcoctl: Path, flag: str, call: str
) -> None:
    result, calls = run(failing_falcoctl, flag)
    assert result.returncode == 0
    assert f"{call} refused" in result.stderr
    assert calls == [f"driver {call}"]
