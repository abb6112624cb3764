"""Objective comparison of mixing systems against reference mixes.

Metrics (:mod:`~console.evaluation.metrics`) compare one mix with its
reference; :func:`~console.evaluation.run.evaluate` mixes every song of a
dataset with every system, scores the mixes and writes tables, plots and the
excerpts a listening test plays.
"""

from console.evaluation.metrics import METRICS, MetricInfo, compare_mixes
from console.evaluation.systems import System, load_system

__all__ = ["METRICS", "MetricInfo", "System", "compare_mixes", "load_system"]
