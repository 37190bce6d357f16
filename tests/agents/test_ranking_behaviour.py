"""Behaviour of the rankers with fixed seeds: the qualitative results of Kveton et al. (2015)
and of Li & de Rijke (2019) at small sizes."""

from __future__ import annotations

import numpy as np

import experiments


def _final_regret(results, label):
    return results[label].cumulative_regret()[0, :, -1]


def test_cascade_kl_ucb_beats_cascade_ucb1_and_both_beat_random():
    # Kveton et al. (2015), Table 1: CascadeKL-UCB has less regret than CascadeUCB1.
    experiment = {
        "env": {"name": "cascade", "num_arms": 16, "slate_size": 4, "gap": 0.15},
        "agents": [
            {"label": "ucb1", "name": "cascade_ucb1"},
            {"label": "kl", "name": "cascade_kl_ucb"},
            {"label": "random", "name": "random_slate"},
        ],
        "num_seeds": 4,
        "num_steps": 5000,
        "figures": [],
    }
    results = experiments.run(experiment, progress=False)
    ucb1, kl, random = (_final_regret(results, label) for label in ("ucb1", "kl", "random"))
    assert kl.mean() < 0.75 * ucb1.mean(), (kl, ucb1)
    assert ucb1.mean() < 0.75 * random.mean(), (ucb1, random)


def test_drift_aware_rankers_beat_cascade_ucb1_after_abrupt_changes():
    # Li & de Rijke (2019): discounting or a window adapts to changed attractions.
    experiment = {
        "env": {
            "name": "cascade",
            "num_arms": 10,
            "slate_size": 3,
            "drift": "abrupt",
            "drift_options": [["redraw", "uniform"]],
            "drift.period": 2000,
            "drift.hazard": 0.0,
        },
        "agents": [
            {"label": "ucb1", "name": "cascade_ucb1"},
            {"label": "ducb", "name": "cascade_ducb", "horizon": 12000, "num_changes": 6},
            {"label": "swucb", "name": "cascade_swucb", "horizon": 12000, "num_changes": 6},
        ],
        "num_seeds": 6,
        "num_steps": 12000,
        "figures": [],
    }
    results = experiments.run(experiment, progress=False)
    ucb1 = _final_regret(results, "ucb1")
    for label in ("ducb", "swucb"):
        aware = _final_regret(results, label)
        assert aware.mean() < ucb1.mean(), (label, aware, ucb1)
    assert np.mean(_final_regret(results, "swucb") < ucb1) >= 0.5
