from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from pipelines.catalog.artifacts import ArtifactRef
from pipelines.catalog.loader import LoadedFamily, load_family
from pipelines.errors import InputError
from pipelines.plan import Layer, order_variants, plan, render_plan

MIRROR = "https://download.falco.org=http://127.0.0.1:8080/download.falco.org"
HELLO_DIR = Path(__file__).resolve().parents[2] / "tests" / "examples" / "valid" / "hello"


def test_full_plan_order_and_tags(falco: LoadedFamily) -> None:
    result = plan(falco, None, None, "0.44.0", [])
    assert result.version == "0.44.0" and result.is_final
    assert result.variants == (
        "falco",
        "falco-debian",
        "falco-driver-loader",
        "falco-driver-loader-legacy",
    )
    assert [(t.variant, t.platform) for t in result.targets] == [
        (variant, platform)
        for variant in result.variants
        for platform in ("linux/amd64", "linux/arm64")
    ]
    tags = {t.variant: t.references for t in result.targets}
    assert tags == {
        "falco": ("falco:0.44.0", "falco:latest"),
        "falco-debian": ("falco:0.44.0-debian", "falco:latest-debian"),
        "falco-driver-loader": ("falco-driver-loader:0.44.0", "falco-driver-loader:latest"),
        "falco-driver-loader-legacy": (
            "falco-driver-loader:0.44.0-buster",
            "falco-driver-loader:latest-buster",
        ),
    }


def test_defaults(falco: LoadedFamily) -> None:
    result = plan(falco)
    assert result.version == "0.44.0"
    assert result.platforms == ("linux/amd64", "linux/arm64")
    assert plan(falco, [], [], None).targets == result.targets


def test_bases_come_first_whatever_the_request_order(falco: LoadedFamily) -> None:
    requested = ["falco-driver-loader", "falco-driver-loader-legacy", "falco-debian"]
    assert order_variants(falco, requested) == (
        "falco-debian",
        "falco-driver-loader",
        "falco-driver-loader-legacy",
    )
    result = plan(falco, requested, ["linux/arm64", "linux/amd64"], "0.44.0")
    assert [t.platform for t in result.targets[:2]] == ["linux/amd64", "linux/arm64"]


def artifact(layer: Layer) -> ArtifactRef:
    """The one artifact a layer installs."""
    [planned] = layer.artifacts
    return planned.ref


def test_base_chain_and_layers(falco: LoadedFamily) -> None:
    target = plan(falco, ["falco-driver-loader"], ["linux/arm64"], "0.44.0").targets[0]
    assert target.base_chain == ("falco-debian", "falco-driver-loader")
    assert [layer.variant for layer in target.layers] == list(target.base_chain)
    assert target.root_base.image == "debian:12-slim"
    debian, loader = target.layers
    assert [a.ref.name for a in debian.artifacts] == ["deb"]
    assert debian.artifacts[0].ref.url.endswith("/deb/stable/falco-0.44.0-aarch64.deb")
    # falcoctl and its configuration come from the release's own .deb
    assert [(a.ref.name, a.step.target) for a in loader.artifacts] == [  # type: ignore[union-attr]
        ("deb", "/usr/bin/falcoctl"),
        ("deb", "/etc/falcoctl/falcoctl.yaml"),
    ]
    assert loader.artifacts[0].ref == debian.artifacts[0].ref
    assert target.elf_machine == 183
    assert [f.target for f in loader.files] == ["/docker-entrypoint.sh"]
    assert loader.files[0].mode == 0o755
    assert loader.files[0].source.is_file()
    assert loader.files[0].family_path == "variants/falco-driver-loader/files/docker-entrypoint.sh"


def test_distroless_target(falco: LoadedFamily) -> None:
    target = plan(falco, ["falco"], ["linux/amd64"], "0.44.0").targets[0]
    assert target.base_chain == ("falco",)
    assert target.root_base.distroless is not None
    assert target.root_base.distroless.release == "bookworm"
    assert artifact(target.layers[0]).url == (
        "https://download.falco.org/packages/bin/x86_64/falco-0.44.0-x86_64.tar.gz"
    )
    assert target.elf_machine == 62
    assert target.image.cmd == ["/usr/bin/falco"]
    assert target.image.entrypoint is None


def test_effective_image_of_loader(falco: LoadedFamily) -> None:
    target = plan(falco, ["falco-driver-loader"], ["linux/amd64"], "0.44.0-rc1").targets[0]
    image = target.image
    assert image.entrypoint == ["/docker-entrypoint.sh"]
    assert image.cmd == []
    assert image.workdir == "/"  # inherited from falco-debian
    assert image.env == {
        "HOST_ROOT": "/host",
        "HOME": "/root",
        "FALCO_VERSION": "0.44.0-rc1",
        "VERSION_BUCKET": "deb-dev",
    }
    labels = image.labels
    assert labels["org.opencontainers.image.version"] == "0.44.0-rc1"
    assert labels["org.opencontainers.image.title"] == "falco-driver-loader"
    assert labels["org.opencontainers.image.source"] == "https://github.com/falcosecurity/falco"
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"
    assert labels["org.opencontainers.image.vendor"] == "Falco Organization"
    assert labels["maintainer"] == "cncf-falco-dev@lists.cncf.io"
    assert "IMAGE [auto|kmod|modern_ebpf] [options]" in labels["usage"]
    assert labels["org.opencontainers.image.description"].startswith("Installs the Falco kernel")


def test_metadata_tests_match_the_effective_image(falco: LoadedFamily) -> None:
    for target in plan(falco, version="0.44.0+abc").targets:
        metadata = target.tests.metadata
        assert metadata is not None, target.variant
        for key, value in (metadata.labels or {}).items():
            assert target.image.labels[key] == value, (target.variant, key)
        for key, value in (metadata.env or {}).items():
            assert target.image.env[key] == value, (target.variant, key)
        if metadata.entrypoint is not None:
            assert target.image.entrypoint == metadata.entrypoint
        if metadata.cmd is not None:
            assert target.image.cmd == metadata.cmd


def test_tests_are_rendered_with_escaped_regexes(falco: LoadedFamily) -> None:
    target = plan(falco, ["falco-driver-loader"], ["linux/amd64"], "0.44.0-rc1+abc").targets[0]
    commands = {test.name: test for test in target.tests.commands}
    pattern = commands["falco is installed"].expected_output[0]
    assert pattern == r"Falco version: 0\.44\.0\-rc1\+abc"
    assert re.search(pattern, "Falco version: 0.44.0-rc1+abc (x86_64)")
    assert commands["falcoctl is the one the release ships"].expected_output == [r"0\.13\.0"]
    assert target.tests.metadata is not None and target.tests.metadata.labels is not None
    assert target.tests.metadata.labels["org.opencontainers.image.version"] == "0.44.0-rc1+abc"


def test_pre_release_plan(falco: LoadedFamily) -> None:
    result = plan(falco, ["falco", "falco-debian"], ["linux/amd64"], "0.44.0-rc1")
    assert not result.is_final
    assert [t.tags for t in result.targets] == [("0.44.0-rc1",), ("0.44.0-rc1-debian",)]
    tarball = artifact(result.targets[0].layers[0])
    assert "/bin-dev/" in tarball.url
    deb = artifact(result.targets[1].layers[0])
    assert "/deb-dev/" in deb.url


def test_build_metadata_plan(falco: LoadedFamily) -> None:
    result = plan(falco, ["falco"], ["linux/amd64"], "0.44.0+abc")
    target = result.targets[0]
    assert target.tags == ("0.44.0-abc",)
    assert "falco-0.44.0%2Babc-x86_64.tar.gz" in artifact(target.layers[0]).url
    assert target.image.env["FALCO_VERSION"] == "0.44.0+abc"


def test_parameter_flows_everywhere(falco: LoadedFamily) -> None:
    result = plan(falco, ["falco-driver-loader-legacy"], ["linux/amd64"], "0.44.0",
                  ["release=bullseye"])  # fmt: skip
    target = result.targets[0]
    assert target.tags == ("0.44.0-bullseye", "latest-bullseye")
    assert target.root_base.image == "debian:bullseye"
    assert target.layers[0].params["release"] == "bullseye"
    commands = {test.name: test for test in target.tests.commands}
    assert commands["base is the requested Debian release"].expected_output == [
        "(?m)^VERSION_CODENAME=bullseye$"
    ]
    # apt sources are chosen by the base's codename at build time: buster's stays available.
    assert "buster" in target.layers[0].spec.install.apt_sources


def test_scoped_parameter_beats_unscoped(falco: LoadedFamily) -> None:
    params = ["falco-driver-loader-legacy.release=bookworm", "release=bullseye"]
    target = plan(falco, ["falco-driver-loader-legacy"], ["linux/amd64"], "0.44.0", params)
    assert target.targets[0].root_base.image == "debian:bookworm"
    trixie = plan(falco, ["falco-driver-loader-legacy"], ["linux/amd64"], "0.44.0",
                  ["release=trixie"])  # fmt: skip
    assert trixie.targets[0].layers[0].params["release"] == "trixie"


def test_unscoped_parameter_applies_to_variants_declaring_it(falco: LoadedFamily) -> None:
    result = plan(falco, None, ["linux/amd64"], "0.44.0", ["release=bullseye"])
    assert "release" not in result.targets[0].layers[0].params
    assert result.targets[-1].layers[0].params["release"] == "bullseye"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"variants": ["falco-driverloader"]},
            "unknown variant 'falco-driverloader' in family 'falco' (did you mean "
            "'falco-driver-loader'?); known variants: falco, falco-debian, falco-driver-loader, "
            "falco-driver-loader-legacy",
        ),
        (
            {"platforms": ["linux/x86_64"]},
            "platform 'linux/x86_64' is not built by this family (did you mean 'linux/amd64'?); "
            "valid platforms: linux/amd64, linux/arm64",
        ),
        ({"version": "latest"}, "invalid version 'latest'"),
        ({"version": "v0.44.0"}, "drop the leading 'v' and use '0.44.0'"),
        ({"params": ["release"]}, "invalid parameter 'release': expected KEY=VALUE"),
        (
            {"variants": ["falco"], "params": ["release=bullseye"]},
            "unknown parameter 'release' (from 'release=bullseye'): no variant being built "
            "declares it; known parameters by variant: falco: revision",
        ),
        (
            {"params": ["falco.release=x"]},
            "unknown parameter 'release' for variant 'falco'; known parameters: revision",
        ),
        (
            {"variants": ["falco"], "params": ["falco-driver-loader-legacy.release=x"]},
            "parameter 'falco-driver-loader-legacy.release=x' is for variant "
            "'falco-driver-loader-legacy', which is not being built (building: falco)",
        ),
        (
            {"params": ["nope.release=x"]},
            "parameter 'nope.release=x' names unknown variant 'nope'",
        ),
        ({"mirrors": ["download.falco.org"]}, "invalid mirror 'download.falco.org'"),
        (
            {"variants": ["falco-driver-loader-legacy"], "params": ["release=Buster!"]},
            "variant 'falco-driver-loader-legacy' with release=Buster!, snapshot=20250630T203427Z: "
            "base.image: "
            "'debian:Buster!' is not a valid image reference",
        ),
    ],
)
def test_invalid_requests_fail_up_front(
    falco: LoadedFamily, kwargs: dict[str, list[str] | str], message: str
) -> None:
    with pytest.raises(InputError) as caught:
        plan(falco, **kwargs)  # type: ignore[arg-type]
    assert message in str(caught.value)


def test_mirrors_reach_artifacts_and_signing_key(falco: LoadedFamily) -> None:
    mirrors = [MIRROR, "https://falco.org=http://127.0.0.1:8080/falco.org"]
    result = plan(falco, ["falco"], ["linux/amd64"], "0.44.0", mirrors=mirrors)
    assert result.signing_key is not None
    assert (
        result.signing_key.url == "http://127.0.0.1:8080/falco.org/repo/falcosecurity-packages.asc"
    )
    assert result.signing_key.fingerprint == "478B2FBBC75F4237B731DA4365106822B35B1B1F"
    tarball = artifact(result.targets[0].layers[0])
    assert tarball.url.startswith("http://127.0.0.1:8080/download.falco.org/packages/bin/")
    assert tarball.signature_url is not None and tarball.signature_url.endswith(".tar.gz.asc")
    assert result.mirrors == tuple(mirrors)


def test_render_plan(falco: LoadedFamily) -> None:
    text = render_plan(plan(falco, None, None, "0.44.0-rc1"))
    lines = text.splitlines()
    assert lines[0] == (
        "family falco, version 0.44.0-rc1 (pre-release): 8 image(s) for linux/amd64, linux/arm64"
    )
    assert lines[1].split() == ["#", "VARIANT", "PLATFORM", "BUILT", "ON", "TAGS"]
    assert lines[2].split() == ["1", "falco", "linux/amd64", "distroless", "bookworm",
                                "falco:0.44.0-rc1"]  # fmt: skip
    assert lines[6].split() == ["5", "falco-driver-loader", "linux/amd64", "debian:12-slim", ">",
                                "falco-debian", "falco-driver-loader:0.44.0-rc1"]  # fmt: skip
    assert len(lines) == 10
    assert lines[2].index("linux/amd64") == lines[9].index("linux/arm64")


def test_to_json(falco: LoadedFamily) -> None:
    data = json.loads(plan(falco, ["falco"], None, "0.44.0").model_dump_json())
    assert data["family"] == "falco"
    assert [t["platform"] for t in data["targets"]] == ["linux/amd64", "linux/arm64"]
    assert data["targets"][0]["tags"] == ["0.44.0", "latest"]
    tarball = data["targets"][0]["layers"][0]["artifacts"][0]["ref"]
    assert tarball["filename"] == "falco-0.44.0-x86_64.tar.gz"


def test_plan_is_deterministic(falco: LoadedFamily) -> None:
    assert plan(falco).model_dump_json() == plan(falco).model_dump_json()


def test_generic_family(hello: LoadedFamily) -> None:
    result = plan(hello, None, None, "1.2.3", ["release=trixie"])
    assert result.platforms == ("linux/arm64", "linux/amd64")  # the family's order
    assert [(t.variant, t.platform, t.tags) for t in result.targets] == [
        ("hello", "linux/arm64", ("1.2.3", "1.2", "latest")),
        ("hello", "linux/amd64", ("1.2.3", "1.2", "latest")),
        ("hello-debian", "linux/arm64", ("1.2.3-trixie", "latest-trixie")),
        ("hello-debian", "linux/amd64", ("1.2.3-trixie", "latest-trixie")),
    ]
    hello_target, _, debian_target, _ = result.targets
    assert hello_target.image.entrypoint == ["/usr/bin/hello"]
    assert hello_target.image.cmd == []
    assert hello_target.image.user == "65532:65532"
    assert artifact(hello_target.layers[0]).sha256_pin == "0" * 63 + "2"
    assert debian_target.root_base.image == "docker.io/library/debian:trixie-slim"
    command = debian_target.tests.commands[0]
    assert command.command == ["sh", "-c", "hello --version && echo ${GREETING_RELEASE}"]
    assert command.expected_output == [r"^hello 1\.2\.3", "trixie"]
    assert debian_target.image.env == {"GREETING_RELEASE": "trixie"}
    assert "1.2" not in plan(hello, ["hello"], None, "1.3.0-rc1").targets[0].tags


def test_parameters_that_make_tags_collide(tmp_path: Path) -> None:
    family_dir = tmp_path / "hello"
    shutil.copytree(HELLO_DIR, family_dir)
    variant = family_dir / "variants" / "hello" / "variant.toml"
    variant.write_text(
        variant.read_text().replace(
            'tags = ["{version}", "{major}.{minor}", "latest"]', 'tags = ["{version}-trixie"]'
        )
    )
    family = load_family(family_dir)
    assert plan(family, version="1.2.3")
    with pytest.raises(InputError) as caught:
        plan(family, version="1.2.3", params=["release=trixie"])
    assert str(caught.value) == (
        "variants 'hello' and 'hello-debian' would both publish hello:1.2.3-trixie; "
        "change their parameters"
    )
