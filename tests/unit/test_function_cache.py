"""Which functions Dagger may serve from its function cache in module mode (by default every
function's result is kept 7 days for the same inputs): not those with effects outside the
engine or answers that must be read afresh."""

from __future__ import annotations

from pipelines import ImageFamily


def _cache_policies() -> dict[str, str | None]:
    module = ImageFamily.__dagger_module__  # type: ignore[attr-defined]
    functions = module.get_object(ImageFamily.__name__).functions
    return {name: f.cache_policy for name, f in functions.items() if name}


def test_publish_and_lock_always_run() -> None:
    policies = _cache_policies()
    assert policies["publish_all"] == "never"  # pushes to a registry: an effect, not a value
    assert policies["lock"] == "never"  # reads the mirror: a re-run must see its updates


def test_builds_may_be_served_from_the_cache() -> None:
    # same catalog, version and inputs (artifacts pinned, packages locked): the same images,
    # so a warm `dagger call build-all` needs no step to run
    policies = _cache_policies()
    for name in ("build", "build_all", "export_all", "plan", "test"):
        assert policies[name] is None, name
