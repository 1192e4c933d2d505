"""Benchmark of the pipeline against Docker builds of Falco-equivalent Dockerfiles.

``bench/run`` (``python -m bench.run``) times cold, warm no-op and one-file rebuilds of the
engine tests' target set from a stand-in Falco release on loopback, the same image set built
by ``docker build --no-cache`` from ``bench/dockerfiles``, and prints one table (and JSON).
"""
