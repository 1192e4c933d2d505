"""The distroless floor: prune a root filesystem to what its programs load (standard library only).

These modules also run as a script in the tools container (``python3 -m <package>.prune``),
copied there without the rest of ``pipelines``: they import nothing but the standard library and
each other (relative imports).
"""
