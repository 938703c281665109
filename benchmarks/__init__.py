"""Benchmarks of the asen library: ``python benchmarks/run.py [--quick]`` (see benchmarks/run.py)."""
