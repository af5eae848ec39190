"""Comparing two runs' outputs: what a rerun must repeat bit for bit."""


def without_timings(x):
    """A summary or metrics dict less the wall-clock fields, which no rerun repeats."""
    if isinstance(x, dict):
        return {k: without_timings(v) for k, v in x.items() if k != "seconds"}
    if isinstance(x, list):
        return [without_timings(v) for v in x]
    return x
