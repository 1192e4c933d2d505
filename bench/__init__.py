"""Benchmark of the pipeline against Docker builds of Falco-equivalent Dockerfiles.

``bench/run`` (``python -m bench.run``) times the lock step, then cold, warm no-op and one-file
rebuilds of the default ``build-all`` matrix (every variant for both platforms) from a stand-in
Falco release on loopback, the former 6-image target set cold for comparison, and the same
images built by ``docker build --no-cache`` from ``bench/dockerfiles``; it compares the
reproducible tarballs of two cold runs and prints the tables (and JSON).
"""
