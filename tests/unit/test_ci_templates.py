"""The CI templates run the laptop's `dagger call` lines, and they are linted.

`.github/workflows/images.yml` and `.gitlab-ci.yml` are checked three ways: actionlint (the
workflow; built once with `go install` from the Go module proxy at ACTIONLINT_VERSION into
IMAGE_FAMILY_CACHE), check-jsonschema with its vendored schemas (both files), and the checks
below on the parsed YAML: the same functions and flags in both files, flags that
pipelines/main.py defines, secrets only as `env:NAME`, publish on release tags after build, the
Dagger CLI pinned at dagger.json's engineVersion.

A linter that cannot be built or installed fails its test (never a skip), and each linter must
also reject a broken copy of its file, so a linter that accepts anything cannot pass.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "images.yml"
GITLAB_CI = ROOT / ".gitlab-ci.yml"
MAIN = ROOT / "pipelines" / "main.py"
DAGGER_VERSION = json.loads((ROOT / "dagger.json").read_text())["engineVersion"].removeprefix("v")

# The newest actionlint the Go module proxy serves here (`go list -m -versions`).
ACTIONLINT_MODULE = "github.com/rhysd/actionlint"
ACTIONLINT_VERSION = "v1.7.12"
CACHE = Path(os.environ.get("IMAGE_FAMILY_CACHE", "/var/cache/image-family/ci-tools"))

FILES = {"github": WORKFLOW, "gitlab": GITLAB_CI}
SCHEMAS = {"github": "vendor.github-workflows", "gitlab": "vendor.gitlab-ci"}
HEADER = "# The `dagger call` lines below are the same command lines a laptop user runs"
ENV_SECRET = re.compile(r"env:[A-Z][A-Z0-9_]*")
PINNED_ACTION = re.compile(r"^\s*(?:- )?uses: [\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*$")


# --- the files as data ---------------------------------------------------------------------------


def load(path: Path) -> dict[str, Any]:
    """A YAML file as YAML 1.2 (GitHub's `on:` stays a string), with the parser that
    check-jsonschema itself uses."""
    data = YAML(typ="safe", pure=True).load(path.read_text())
    assert isinstance(data, dict), f"{path}: not a mapping"
    return data


YamlPath = tuple[str | int, ...]


@dataclass(frozen=True)
class DaggerLine:
    """One `dagger ...` command of a CI file, split as the shell would."""

    file: str
    job: str
    argv: tuple[str, ...]

    @property
    def function(self) -> str:
        return self.argv[2]

    @property
    def options(self) -> list[tuple[str, str]]:
        """(flag, value) pairs after the function, `--flag=value` spelled `--flag value`."""
        pairs: list[tuple[str, str]] = []
        words = list(self.argv[3:])
        while words:
            word = words.pop(0)
            assert word.startswith("--"), f"{self}: {word!r} is not a --flag"
            if "=" in word:
                flag, value = word.split("=", 1)
            else:
                assert words, f"{self}: {word} has no value"
                flag, value = word, words.pop(0)
            pairs.append((flag, value))
        return pairs

    @property
    def flags(self) -> list[str]:
        return [flag for flag, _ in self.options]

    def __str__(self) -> str:
        return f"{self.file} job {self.job}: {shlex.join(self.argv)}"


def shell_commands(script: str) -> list[str]:
    """The commands of a shell script, one per line after joining `\\` continuations."""
    joined = re.sub(r"\\\n\s*", " ", script)
    return [line.strip() for line in joined.splitlines() if line.strip()]


def github_jobs() -> dict[str, dict[str, Any]]:
    jobs = load(WORKFLOW)["jobs"]
    assert isinstance(jobs, dict)
    return jobs


def github_commands() -> list[tuple[str, str]]:
    """(job, command) of every `run:` step of the workflow."""
    return [
        (name, command)
        for name, job in github_jobs().items()
        for step in job.get("steps", [])
        for command in shell_commands(str(step.get("run", "")))
    ]


def flatten(items: object) -> list[str]:
    """A GitLab script: a string or a list of strings and nested lists."""
    if isinstance(items, str):
        return [items]
    assert items is None or isinstance(items, list), items
    return [line for item in items or [] for line in flatten(item)]


def gitlab_jobs() -> dict[str, dict[str, Any]]:
    """The jobs and hidden templates (`.name`) of .gitlab-ci.yml."""
    return {
        name: job
        for name, job in load(GITLAB_CI).items()
        if isinstance(job, dict) and name not in {"workflow", "variables", "default"}
    }


def gitlab_commands() -> list[tuple[str, str]]:
    """(job, command) of every script line of .gitlab-ci.yml."""
    return [
        (name, command)
        for name, job in gitlab_jobs().items()
        for key in ("before_script", "script", "after_script")
        for item in flatten(job.get(key))
        for command in shell_commands(item)
    ]


def dagger_lines(file: str) -> list[DaggerLine]:
    """Every `dagger call` command of a CI file (other dagger commands: only `dagger version`)."""
    commands = github_commands() if file == "github" else gitlab_commands()
    lines = []
    for job, command in commands:
        argv = tuple(shlex.split(command))
        if not argv or argv[0] != "dagger" or argv[1:] == ("version",):
            continue
        line = DaggerLine(file, job, argv)
        # what a laptop user types: no -m, no global flags, no wrapper
        assert argv[1] == "call" and len(argv) >= 3, f"{line}: not `dagger call <function>`"
        lines.append(line)
    return lines


@dataclass(frozen=True)
class Parameter:
    flag: str
    secret: bool


def module_functions() -> dict[str, dict[str, Parameter]]:
    """function -> flag -> parameter, for every @function of pipelines/main.py's main object, as
    `dagger call` spells them (kebab-case)."""
    tree = ast.parse(MAIN.read_text(), str(MAIN))
    [main_object] = [
        node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "ImageFamily"
    ]
    aliases = {
        node.targets[0].id: ast.unparse(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }
    functions: dict[str, dict[str, Parameter]] = {}
    for node in main_object.body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        params = {}
        for arg in [*node.args.args[1:], *node.args.kwonlyargs]:
            annotation = ast.unparse(arg.annotation) if arg.annotation else ""
            annotation = aliases.get(annotation, annotation)
            flag = "--" + arg.arg.replace("_", "-")
            params[flag] = Parameter(flag, secret="dagger.Secret" in annotation)
        functions[node.name.replace("_", "-")] = params
    return functions


# --- the files' own checks ----------------------------------------------------------------------


@pytest.mark.parametrize("file", sorted(FILES))
def test_each_file_runs_build_all_and_publish_all_once(file: str) -> None:
    lines = dagger_lines(file)
    assert {(line.job, line.function) for line in lines} == {
        ("build", "build-all"),
        ("publish", "publish-all"),
    }, [str(line) for line in lines]
    assert len(lines) == 2


@pytest.mark.parametrize("file", sorted(FILES))
def test_header_says_the_lines_are_the_laptop_lines(file: str) -> None:
    assert FILES[file].read_text().startswith(HEADER + ", e.g.\n#   dagger call build-all")


@pytest.mark.parametrize("file", sorted(FILES))
def test_lines_use_only_flags_the_module_defines(file: str) -> None:
    functions = module_functions()
    assert {"--version", "--registry", "--signing-key"} <= set(functions["publish-all"])
    for line in dagger_lines(file):
        assert line.function in functions, f"{line}: no such function in {MAIN.name}"
        unknown = set(line.flags) - set(functions[line.function])
        assert not unknown, f"{line}: {sorted(unknown)} are not parameters of {line.function}"
        assert len(set(line.flags)) == len(line.flags), f"{line}: a flag given twice"
        # both platforms, every variant: the module's defaults, as on a laptop
        assert not {"--platforms", "--variants"} & set(line.flags), str(line)


def test_both_files_use_the_same_functions_and_flag_spelling() -> None:
    github = {line.function: line.flags for line in dagger_lines("github")}
    gitlab = {line.function: line.flags for line in dagger_lines("gitlab")}
    assert github == gitlab
    assert github["build-all"] == []
    assert github["publish-all"] == [
        "--version",
        "--registry",
        "--namespace",
        "--username",
        "--password",
        "--signing-key",
        "--signing-password",
    ]
    registries = {dict(line.options).get("--registry") for line in dagger_lines("github")}
    assert registries - {None} == {"ghcr.io"}
    assert {dict(line.options).get("--registry") for line in dagger_lines("gitlab")} == registries


def test_secrets_are_passed_only_as_env_names() -> None:
    secret_flags = {
        flag for flag, param in module_functions()["publish-all"].items() if param.secret
    }
    assert secret_flags == {"--password", "--signing-key", "--signing-password"}
    names: dict[str, set[str]] = {}
    for file in FILES:
        for line in dagger_lines(file):
            for flag, value in line.options:
                secret = module_functions()[line.function][flag].secret
                assert secret == bool(ENV_SECRET.fullmatch(value)), f"{line}: {flag} {value}"
            used = {value.removeprefix("env:") for _, value in line.options if value[:4] == "env:"}
            # every secret publish-all takes is given: the release is signed
            if line.function == "publish-all":
                assert {f for f in line.flags if f in secret_flags} == secret_flags
            for word in line.argv:
                assert not any(f"${name}" in word or f"${{{name}" in word for name in used), line
            names.setdefault(file, set()).update(used)
    assert names["github"] == names["gitlab"] == {"REGISTRY_TOKEN", "COSIGN_KEY", "COSIGN_PASSWORD"}


def _strings(node: object, path: YamlPath = ()) -> list[tuple[YamlPath, str]]:
    """Every string of a YAML document, with its path of keys and indexes."""
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in _strings(value, (*path, str(key)))]
    if isinstance(node, list):
        return [s for i, value in enumerate(node) for s in _strings(value, (*path, i))]
    return [(path, node)] if isinstance(node, str) else []


def test_github_secrets_reach_only_the_env_of_the_publish_step() -> None:
    workflow = load(WORKFLOW)
    uses = [(path, text) for path, text in _strings(workflow) if "secrets." in text]
    assert uses, "the publish step reads no secret"
    [publish] = [line for line in dagger_lines("github") if line.function == "publish-all"]
    env_names = {value.removeprefix("env:") for _, value in publish.options if value[:4] == "env:"}
    for path, text in uses:
        assert len(path) == 6 and path[:3] == ("jobs", "publish", "steps"), (path, text)
        assert path[4] == "env" and path[5] in env_names, (path, text)
        assert re.fullmatch(r"\$\{\{ secrets\.[A-Z_]+ \}\}", text), (path, text)
    assert "secrets." not in json.dumps(workflow.get("env", {}))


def test_gitlab_secrets_come_from_ci_cd_settings_not_the_file() -> None:
    defined = set(load(GITLAB_CI).get("variables", {}))
    for job in gitlab_jobs().values():
        defined |= set(job.get("variables", {}))
    for secret in ("REGISTRY_TOKEN", "COSIGN_KEY", "COSIGN_KEY_BASE64", "COSIGN_PASSWORD"):
        assert secret not in defined


def test_github_publish_runs_only_on_release_tags_after_build() -> None:
    workflow = load(WORKFLOW)
    assert set(workflow["on"]) == {"pull_request", "push"}
    assert workflow["on"]["push"] == {"branches": ["main"], "tags": ["v*"]}
    jobs = github_jobs()
    assert set(jobs) == {"build", "publish"}
    assert "if" not in jobs["build"]
    assert jobs["publish"]["needs"] in ("build", ["build"])
    assert jobs["publish"]["if"] == (
        "github.event_name == 'push' && startsWith(github.ref, 'refs/tags/v')"
    )
    [publish] = [line for line in dagger_lines("github") if line.function == "publish-all"]
    assert dict(publish.options)["--version"] == "${GITHUB_REF_NAME#v}"
    # least privilege: read everywhere, package writes only where publishing
    assert workflow["permissions"] == {"contents": "read"}
    assert "permissions" not in jobs["build"]
    assert jobs["publish"]["permissions"] == {"contents": "read", "packages": "write"}
    assert workflow["concurrency"]["group"] == "images-${{ github.ref }}"


def test_gitlab_publish_runs_only_on_release_tags_after_build() -> None:
    document = load(GITLAB_CI)
    jobs = gitlab_jobs()
    assert {name for name in jobs if not name.startswith(".")} == {"build", "publish"}
    workflow_ifs = [rule["if"] for rule in document["workflow"]["rules"]]
    assert workflow_ifs == [
        '$CI_PIPELINE_SOURCE == "merge_request_event"',
        "$CI_COMMIT_BRANCH && $CI_OPEN_MERGE_REQUESTS",
        "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH",
        "$CI_COMMIT_TAG =~ /^v/",
    ]
    assert "rules" not in jobs["build"]
    assert jobs["publish"]["needs"] == ["build"]
    assert jobs["publish"]["rules"] == [{"if": "$CI_COMMIT_TAG =~ /^v/"}]
    assert jobs["publish"]["resource_group"] == "publish"
    [publish] = [line for line in dagger_lines("gitlab") if line.function == "publish-all"]
    assert dict(publish.options)["--version"] == "${CI_COMMIT_TAG#v}"


def test_github_pins_dagger_actions_and_emulation() -> None:
    lines = WORKFLOW.read_text().splitlines()
    uses = [line for line in lines if re.match(r"^\s*(- )?uses:", line)]
    assert len(uses) == 6
    for line in uses:
        assert PINNED_ACTION.match(line), f"not pinned to a commit (with its tag): {line.strip()}"
    for name, job in github_jobs().items():
        steps = job["steps"]
        used = [str(step.get("uses", "")).split("@")[0] for step in steps]
        assert used == [
            "actions/checkout",
            "docker/setup-qemu-action",
            "dagger/dagger-for-github",
            "",  # the run step
        ]
        qemu, dagger = steps[1]["with"], steps[2]["with"]
        assert "arm64" in qemu["platforms"].split(","), name
        # install only: the command line is the run step's, not the action's
        assert dagger == {"version": DAGGER_VERSION}, name
        assert steps[0]["with"] == {"persist-credentials": False}
        assert [line.job for line in dagger_lines("github")].count(name) == 1
        assert "dagger call" in steps[3]["run"]


def test_gitlab_pins_dagger_and_sets_up_docker_and_emulation() -> None:
    document = load(GITLAB_CI)
    assert document["variables"]["DAGGER_VERSION"] == DAGGER_VERSION
    jobs = gitlab_jobs()
    template = jobs[".dagger"]
    install = [c for c in flatten(template["before_script"]) if "install.sh" in c]
    assert install == [
        "curl -fsSL https://dl.dagger.io/dagger/install.sh"
        ' | BIN_DIR=/usr/local/bin DAGGER_VERSION="$DAGGER_VERSION" sh'
    ]
    assert any(
        re.fullmatch(r"docker run --rm --privileged tonistiigi/binfmt:\S+ --install arm64", c)
        for c in flatten(template["before_script"])
    )
    assert [s["name"] for s in template["services"]] == [template["image"].replace("cli", "dind")]
    assert template["variables"]["DOCKER_HOST"] == "tcp://docker:2376"
    for line in dagger_lines("gitlab"):
        assert jobs[line.job]["extends"] == ".dagger", str(line)


# --- linters -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def actionlint() -> Path:
    """actionlint ACTIONLINT_VERSION, built with `go install` into the cache when missing."""
    binary = CACHE / f"actionlint-{ACTIONLINT_VERSION}" / "actionlint"
    if not binary.is_file():
        build_actionlint(binary)
    done = subprocess.run([binary, "-version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.split()[:1] == [ACTIONLINT_VERSION], (
        f"{binary} -version: {done.stdout}{done.stderr}"
    )
    return binary


def build_actionlint(binary: Path) -> None:
    if shutil.which("go") is None:
        pytest.fail("go is needed to build actionlint from the Go module proxy")
    try:
        binary.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        pytest.fail(f"cannot create {binary.parent} ({error}): set IMAGE_FAMILY_CACHE")
    with tempfile.TemporaryDirectory(prefix=".build-", dir=binary.parent) as gobin:
        env = {**os.environ, "GOBIN": gobin, "CGO_ENABLED": "0"}
        package = f"{ACTIONLINT_MODULE}/cmd/actionlint@{ACTIONLINT_VERSION}"
        cmd = ["go", "install", "-trimpath", "-ldflags=-s -w", package]
        done = subprocess.run(cmd, env=env, cwd=gobin, capture_output=True, text=True, timeout=1800)
        if done.returncode != 0:
            pytest.fail(f"go install {package} failed:\n{done.stderr[-4000:]}")
        os.replace(Path(gobin) / "actionlint", binary)  # atomic: no half-written binary


def run_actionlint(actionlint: Path, workflow: Path) -> subprocess.CompletedProcess[str]:
    # -shellcheck= and -pyflakes=: the result must not depend on what else the machine has
    argv = [str(actionlint), "-no-color", "-shellcheck=", "-pyflakes=", str(workflow)]
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_actionlint_accepts_the_workflow(actionlint: Path) -> None:
    done = run_actionlint(actionlint, WORKFLOW)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_rejects_a_broken_workflow(actionlint: Path, tmp_path: Path) -> None:
    broken = tmp_path / "images.yml"
    text = WORKFLOW.read_text()
    assert text.count("needs: build\n") == 1
    broken.write_text(text.replace("needs: build\n", "needs: biuld\n"))
    done = run_actionlint(actionlint, broken)
    assert done.returncode == 1, done.stdout + done.stderr
    assert 'needs job "biuld" which does not exist' in done.stdout, done.stdout


def check_jsonschema(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec("check_jsonschema") is None:
        pytest.fail("check-jsonschema is not installed: pip install -e '.[dev]'")
    argv = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("file", sorted(FILES))
def test_check_jsonschema_accepts_the_file(file: str) -> None:
    done = check_jsonschema(SCHEMAS[file], FILES[file])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok -- validation done" in done.stdout


BREAKAGES = {
    # a job without runs-on; an interruptible that is not a boolean
    "github": (
        "    runs-on: ubuntu-24.04\n",
        "    run-on: ubuntu-24.04\n",
        "'runs-on' is a required",
    ),
    "gitlab": ("  interruptible: false\n", "  interruptible: never\n", "'never' is not of type"),
}


@pytest.mark.parametrize("file", sorted(FILES))
def test_check_jsonschema_rejects_a_broken_file(file: str, tmp_path: Path) -> None:
    old, new, message = BREAKAGES[file]
    text = FILES[file].read_text()
    assert old in text
    broken = tmp_path / FILES[file].name
    broken.write_text(text.replace(old, new, 1))
    done = check_jsonschema(SCHEMAS[file], broken)
    assert done.returncode == 1, done.stdout + done.stderr
    assert message in done.stdout, done.stdout
