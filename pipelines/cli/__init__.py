"""The module's functions as a command line identical to ``dagger call``, for any engine."""
