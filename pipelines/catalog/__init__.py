"""The image catalog: models of ``family.toml``/``variant.toml``/lock files and their loader.

Import from the submodules (``pipelines.catalog.loader``, ``.family``, ``.variant``,
``.lock``, ``.artifacts``, ``.mirrors``, ``.templates``, ``.render``, ``.params``);
this package itself imports nothing so that the modules can depend on each other
without import cycles.
"""
