"""Benchmarks: throughput, API calls and memory, token mints across processes, import cost."""
