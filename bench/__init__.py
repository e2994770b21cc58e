"""Benchmarks: retrieval quality (retrieval.py)."""
