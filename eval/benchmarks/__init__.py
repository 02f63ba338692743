"""Benchmarks of the real pipeline: public data sets (SciFact, ClapNQ), speed, latency.

Each module runs as `python -m eval.benchmarks.<name>`, prints a table and
writes its numbers as JSON (default `eval/reports/<name>.json`).
docs/benchmarks.md has the commands and the measured numbers.
"""
