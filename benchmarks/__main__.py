"""Run every benchmark: ``make bench`` (``python -m benchmarks``)."""

from __future__ import annotations

from benchmarks import client_bound, import_cost, planner, tokens

if __name__ == "__main__":
    import_cost.main()
    tokens.main()
    client_bound.main()
    planner.main()
