"""Run every benchmark: ``make bench`` (``python -m benchmarks``)."""

from __future__ import annotations

from benchmarks import import_cost, throughput, tokens

if __name__ == "__main__":
    import_cost.main()
    tokens.main()
    throughput.main()
