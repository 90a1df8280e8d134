"""Benchmarks: each measures this project against its peer in one run (STYLE.md 12)."""
