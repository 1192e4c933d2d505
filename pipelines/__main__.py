"""``python -m pipelines <function> [flags] [chained call]``: the same line as ``dagger call``.

For engines that cannot load modules (no registry for the SDK runtime), or from any
repository that installed this package: the functions, flags and value syntax are generated
from the module's own signatures (see :mod:`pipelines.cli`). The engine is the one dagger-io
finds (``_EXPERIMENTAL_DAGGER_RUNNER_HOST``, or the ``dagger`` CLI's).
"""

from __future__ import annotations

import sys

from pipelines.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
