"""Benchmarks of the asen library: ``python -m benchmarks.run [--quick]`` (see benchmarks/run.py)."""
