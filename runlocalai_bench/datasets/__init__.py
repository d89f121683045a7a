"""Benchmark data: loaders from the hub, --data-dir and bundled samples, with content pins."""
