"""Benchmarks of the project's speed and memory budgets (`make bench`).

Each one measures the project and a baseline side by side in the same run, repeats
both, and reports the ratio of the medians, since absolute times on a shared machine
drift.
"""
