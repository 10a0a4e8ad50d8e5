"""Minimal stand-in for SciPy, for Google Benchmark's compare.py only.

This is NOT SciPy. It is shmring's own code, written for this project.

Why it exists: Google Benchmark's comparison tool (Debian 12 package
libbenchmark-tools 1.7.1, /usr/share/benchmark/compare.py and its
gbench/report.py) does ``from scipy.stats import mannwhitneyu, gmean``.
On Debian 12, python3-scipy cannot be installed next to libboost1.81-dev,
which shmring builds against: python3-scipy -> python3-pythran ->
libboost-dev -> libboost1.74-dev, and libboost1.74-dev conflicts with
libboost1.81-dev.

Only ``scipy.stats.mannwhitneyu`` and ``scipy.stats.gmean`` are provided,
with SciPy 1.10 semantics for the calls compare.py makes. This directory
(perf/tools) is put on PYTHONPATH only when running compare.py; nothing
else in the project should import it.
"""
