"""Benchmarks: retrieval quality (retrieval.py); performance (run.py: ingest, latency, encoders, ann)."""

import os

# bench runs only as a program (`python -m bench.<module>`): the same process defaults as the
# `archive` command (archive.cli.main), so its figures are measured as the CLI and server run.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
