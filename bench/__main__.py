"""`make bench`: every benchmark, then one table of measured values, baselines and ratios.

`python -m bench NAME ...` runs only the named ones (coldstart, latency, forwarding, console,
memory, sweep, pow).
"""

from __future__ import annotations

import argparse
import logging
import time

from factoryops.config import FUNCTIONS

from bench import report, stack

BENCHMARKS = ("coldstart", "latency", "forwarding", "console", "memory", "sweep", "pow")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", choices=[*BENCHMARKS, []], default=[])
    args = parser.parse_args()
    chosen = args.names or list(BENCHMARKS)
    # The functions' own log lines would bury the table.
    logging.disable(logging.ERROR)
    rows: list[report.Row] = []
    with stack.stack() as s:
        for name in chosen:
            started = time.monotonic()
            print(f"running {name} ...", flush=True)
            module = __import__(f"bench.{name}", fromlist=["run"])
            found = module.run(s, list(FUNCTIONS))
            for row in found:
                print("  " + report.line(row), flush=True)
            print(f"  ({time.monotonic() - started:.0f} s)", flush=True)
            rows.extend(found)
    print()
    print(report.table(rows))
    failed = [row.name for row in rows if not row.ok]
    if failed:
        print(f"\nover budget: {', '.join(failed)}")


if __name__ == "__main__":
    main()
