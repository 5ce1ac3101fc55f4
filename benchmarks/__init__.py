"""Benchmarks, settings sweeps and evaluation-split tools (run from the repository: ``python -m
benchmarks.<name>``)."""
