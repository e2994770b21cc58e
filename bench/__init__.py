"""Benchmarks: retrieval quality (retrieval.py); performance (run.py: ingest, latency, encoders, ann)."""
