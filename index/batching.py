"""Batching by length: texts of similar token length embedded together, results in the callers' order.

A batch is padded to its longest text, so sorting first means short texts no longer
pay for a long one's padding. Both embedding backends and the builder's resumable
loop (index.resume) use it.

    for rows in length_batches(lengths, 64):   # lists of row numbers, shortest texts first
        vectors[rows] = embed([texts[row] for row in rows])
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

__all__ = ["length_batches"]


def length_batches(lengths: Sequence[int], batch_size: int) -> Iterator[list[int]]:
    """Row numbers in batches of at most `batch_size`, ordered by length (ties keep their input order)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    order = sorted(range(len(lengths)), key=lambda row: lengths[row])
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]
