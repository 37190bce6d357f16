"""The bake-off table: average reward per dataset and agent, with the agents' ranks.

For the ``bakeoff`` preset (a contextual-bandit bake-off over classification datasets,
Bietti, Agarwal & Langford 2021): a sweep over ``env.dataset``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from experiments.stats import mean_ci
from experiments.tables import Table


def bakeoff_table(results: Any, metric: str = "reward", level: float = 0.95) -> Table:
    """Average reward (or another metric) per dataset and agent, with the agents' rank.

    For the ``bakeoff`` preset (a sweep over ``env.dataset``): each row is one dataset and
    agent, with the mean over seeds of the time-averaged metric, its t interval, and the
    rank of the agent on that dataset (1 = best; tied agents share the better rank).
    """
    table: dict[str, dict[str, Any]] = {}
    for label in results.agents:
        agent_results = results[label]
        values = getattr(agent_results, metric)  # (points, seeds, steps)
        per_seed = np.nanmean(values, axis=-1)
        ci = mean_ci(per_seed, axis=1, level=level)
        for p, point in enumerate(agent_results.points):
            dataset = str(point.get("env.dataset", results.config["env"].get("dataset", "?")))
            table.setdefault(dataset, {})[label] = (
                float(ci.mean[p]),
                float(ci.low[p]),
                float(ci.high[p]),
            )
    rows_out = []
    for dataset, by_agent in table.items():
        means = {label: v[0] for label, v in by_agent.items()}
        for label, (mean, low, high) in by_agent.items():
            rank = 1 + sum(other > mean for other in means.values())
            rows_out.append(
                {
                    "dataset": dataset,
                    "agent": label,
                    metric: mean,
                    "low": low,
                    "high": high,
                    "rank": rank,
                }
            )
    mean_rank = {
        label: float(np.mean([r["rank"] for r in rows_out if r["agent"] == label]))
        for label in results.agents
    }
    note = "mean rank over datasets: " + ", ".join(
        f"{label} {rank:.2f}" for label, rank in sorted(mean_rank.items(), key=lambda kv: kv[1])
    )
    return Table(f"bake-off: time-averaged {metric} per dataset", rows_out, note)
