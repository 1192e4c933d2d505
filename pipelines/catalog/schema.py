"""Write the JSON schemas of the catalog files (for editors and external validators).

Usage: ``python -m pipelines.catalog.schema [--check] [--output DIR]``
(default output: ``images/schema`` of this repository).  ``--check`` writes
nothing and exits with status 1 if a committed schema is out of date.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pydantic import BaseModel

from pipelines.catalog.family import Family
from pipelines.catalog.lock import LockFile
from pipelines.catalog.variant import Variant

DEFAULT_OUTPUT = Path(__file__).resolve().parents[2] / "images" / "schema"

SCHEMAS: dict[str, type[BaseModel]] = {
    "family.schema.json": Family,
    "variant.schema.json": Variant,
    "artifacts.lock.schema.json": LockFile,
}
"""Schema file name -> model."""


def schema_text(model: type[BaseModel]) -> str:
    """The JSON schema of ``model`` as stable, indented JSON text."""
    schema = model.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def generate() -> dict[str, str]:
    """Every schema file name and its text."""
    return {name: schema_text(model) for name, model in SCHEMAS.items()}


def main(argv: list[str] | None = None) -> int:
    """Write (or ``--check``) the schema files; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="output directory")
    parser.add_argument("--check", action="store_true", help="only check they are up to date")
    args = parser.parse_args(argv)
    output: Path = args.output
    stale = []
    for name, text in generate().items():
        path = output / name
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path))
        else:
            output.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print(
            "out of date: " + ", ".join(stale) + " (run python -m pipelines.catalog.schema)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
