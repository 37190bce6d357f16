"""The table of a logged-data experiment (``summary.csv``), from its per-run metrics.

* ``replay``: per agent, the mean over seeds of the accepted rows, of the sum of their
  rewards, and of the replay estimate with its interval (seeds without an accepted row
  left out);
* ``ope`` on simulated logs: per logging policy (``logger``), target and estimator, the
  mean over logs of the estimate, its interval and the truth; the bias with its standard
  error over logs, the RMSE, the coverage (how often the interval held the truth) with its
  binomial standard error ``sqrt(c (1 - c) / L)`` over ``L`` logs, and the interval's mean
  width;
* ``ope`` on the Open Bandit Dataset: per log and estimator, the estimate with its interval
  for the other logging policy, that policy's on-policy CTR (the truth) with its binomial
  interval, and the relative error.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def rows(results: Any) -> list[dict[str, Any]]:
    """The table of a ``kind = "replay"`` or ``"ope"`` :class:`~experiments.results.Results`."""
    config = results.config
    if config.get("kind") == "replay":
        return [_replay_row(label, results[label]) for label in results.agents]
    estimators = config.get("axis_values", {}).get("estimator", [])
    if (config.get("log") or {}).get("source") == "obd":
        return [
            row for label in results.agents for row in _obd_rows(label, results[label], estimators)
        ]
    return [
        row
        for point in range(_num_points(results))
        for label in results.agents
        for row in _simulated_rows(label, results[label], estimators, point)
    ]


def _num_points(results: Any) -> int:
    return min(len(results[label].points) for label in results.agents) if results.agents else 0


def _nanmean(values: np.ndarray) -> float:
    finite = np.asarray(values, np.float64)
    finite = finite[~np.isnan(finite)]
    return float(finite.mean()) if finite.size else float("nan")


def _replay_row(label: str, r: Any) -> dict[str, Any]:
    return {
        "agent": label,
        "accepted": float(np.mean(r.accepted)),
        "rewards": float(np.mean(r.rewards)),
        "estimate": _nanmean(r.estimate),
        "low": _nanmean(r.low),
        "high": _nanmean(r.high),
    }


def _obd_rows(label: str, r: Any, estimators: list[str]) -> list[dict[str, Any]]:
    other = "bts" if label == "random" else "random"
    truth = float(r.truth[0, 0])
    out = []
    for e, name in enumerate(estimators):
        value = float(r.estimate[0, 0, e])
        out.append(
            {
                "log": label,
                "target": other,
                "estimator": name,
                "estimate": value,
                "low": float(r.low[0, 0, e]),
                "high": float(r.high[0, 0, e]),
                "truth": truth,
                "truth_low": float(r.truth_low[0, 0]),
                "truth_high": float(r.truth_high[0, 0]),
                "relative_error": abs(value - truth) / truth if truth > 0 else float("nan"),
            }
        )
    return out


def _simulated_rows(label: str, r: Any, estimators: list[str], point: int) -> list[dict[str, Any]]:
    truth = np.asarray(r.truth[point], np.float64)
    num_logs = truth.shape[0]
    logger = r.points[point].get("logger", "logger")
    out = []
    for e, name in enumerate(estimators):
        values, low, high = (
            np.asarray(m[point, :, e], np.float64) for m in (r.estimate, r.low, r.high)
        )
        error = values - truth
        covered = float(np.mean((low <= truth) & (truth <= high)))
        out.append(
            {
                "logger": logger,
                "target": label,
                "estimator": name,
                "estimate": float(values.mean()),
                "low": float(low.mean()),
                "high": float(high.mean()),
                "truth": float(truth.mean()),
                "bias": float(error.mean()),
                "bias_se": float(error.std(ddof=1) / math.sqrt(num_logs))
                if num_logs > 1
                else float("nan"),
                "rmse": float(np.sqrt(np.mean(error**2))),
                "coverage": covered,
                "coverage_se": math.sqrt(covered * (1.0 - covered) / num_logs),
                "width": float(np.mean(high - low)),
            }
        )
    return out
