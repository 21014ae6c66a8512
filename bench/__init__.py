"""Linli's benchmarks: run ``python -m bench`` (see README.md)."""
