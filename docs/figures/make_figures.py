"""The README's figures: three sweeps that are not presets, drawn by ``experiments.figures``.

    .venv/bin/python docs/figures/make_figures.py            # writes docs/figures/*.png
    .venv/bin/python docs/figures/make_figures.py --style talk --out /tmp/talk

* ``lr``: a 12-point learning-rate sweep (``logspace(-4, 1.5, 12)``) of online gradient
  descent (SGD and Adam) on a drifting linear-regression stream: per-step loss (two
  panels, each a colour ramp over the learning rate, log y), cumulative regret, and the
  final loss against the learning rate (log x, diverged rates marked);
* ``memory``: sliding-window UCB (6 windows) and discounted UCB (6 discounts) against UCB
  and Thompson sampling on a piecewise-stationary Bernoulli bandit whose arms are redrawn
  every T/6 steps (500): regret with the change points, and the final regret against the
  effective memory (window w or 1/(1 − γ));
* ``users``: four agents (random, LinUCB, D-LinUCB, SW-LinUCB) on drifting users (a
  rotating population taste): regret and click-through rate.

:func:`run` runs one sweep at any size (the tests run them at 2 seeds and 50 steps and
measure the drawn figures); :func:`main` runs all three at the documented size (each well
under a minute on two CPU cores) and writes the PNGs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

#: learning rates of the ``lr`` sweep: 10^-4 ... 10^1.5, 12 points
LEARNING_RATES = [round(10 ** (-4 + 5.5 * i / 11), 6) for i in range(12)]
WINDOWS = [25, 50, 100, 200, 400, 800]
DISCOUNTS = [0.96, 0.98, 0.99, 0.995, 0.9975, 0.99875]

#: name -> (figures to draw, default seeds, default steps)
SWEEPS = {
    "lr": (["loss", "regret", "sensitivity"], 8, 2000),
    "memory": (["regret", "sensitivity"], 8, 3000),
    "users": (["regret", "reward"], 8, 3000),
}


def experiment(name: str, seeds: int | None = None, steps: int | None = None) -> dict[str, Any]:
    """The experiment dict of sweep ``name`` (``"lr"``, ``"memory"`` or ``"users"``)."""
    names, default_seeds, default_steps = SWEEPS[name]
    common = {
        "num_seeds": seeds or default_seeds,
        "num_steps": steps or default_steps,
        "seed": 0,
        "figures": names,
    }
    if name == "lr":
        return {
            "name": "lr-sweep-12",
            **common,
            "env": {
                "name": "regression_stream",
                "context_dim": 16,
                "drift": "random_walk",
                "drift.rate": 0.01,
                "noise": 0.5,
            },
            "agents": [
                {"label": "sgd", "name": "ogd", "optimizer": "sgd"},
                {"label": "adam", "name": "ogd", "optimizer": "adam"},
            ],
            "sweep": {"mode": "grid", "agent.learning_rate": LEARNING_RATES},
        }
    if name == "memory":
        return {
            "name": "abrupt-memory",
            **common,
            "env": {
                "name": "piecewise_bernoulli",
                "num_arms": 5,
                "drift.period": max(10, common["num_steps"] // 6),  # 500 at 3000 steps
            },
            "agents": [
                {"label": "sw-ucb", "name": "sliding_window_ucb"},
                {"label": "d-ucb", "name": "discounted_ucb"},
                {"label": "ucb", "name": "ucb"},
                {"label": "thompson", "name": "thompson"},
            ],
            "sweep": {
                "mode": "grid",
                "agents.sw-ucb.window": WINDOWS,
                "agents.d-ucb.discount": DISCOUNTS,
            },
        }
    if name == "users":
        return {
            "name": "drifting-users-4",
            **common,
            "env": {
                "name": "drifting_users",
                "num_users": 50,
                "num_items": 200,
                "num_candidates": 10,
                "dim": 8,
                "drift": "rotation",
                "drift.speed": 0.002,
            },
            "agents": [
                {"label": "random", "name": "random"},
                {"label": "linucb", "name": "linucb", "mode": "shared", "alpha": 0.5, "ridge": 1.0},
                {
                    "label": "d-linucb",
                    "name": "d_linucb",
                    "discount": 0.99,
                    "ridge": 1.0,
                    "noise": 0.5,
                },
                {
                    "label": "sw-linucb",
                    "name": "sw_linucb",
                    "window": 200,
                    "ridge": 1.0,
                    "noise": 0.5,
                },
            ],
        }
    raise KeyError(f"unknown sweep {name!r}; one of {', '.join(SWEEPS)}")


def run(name: str, seeds: int | None = None, steps: int | None = None):
    """Run sweep ``name`` in memory (no results folder) and return its Results."""
    import experiments

    return experiments.run(experiment(name, seeds, steps), figures=False)


def file_prefix(name: str) -> str:
    return {"lr": "lr_sweep", "memory": "abrupt_memory", "users": "drifting_users"}[name]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(HERE), help="folder for the PNGs")
    parser.add_argument("--style", default="paper", choices=["paper", "talk"])
    parser.add_argument("--only", nargs="*", default=list(SWEEPS), choices=list(SWEEPS))
    parser.add_argument("--seeds", type=int)
    parser.add_argument("--steps", type=int)
    parser.add_argument("--dpi", type=float, default=200, help="PNG resolution")
    args = parser.parse_args(argv)
    from experiments import figures

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in args.only:
        start = time.perf_counter()
        results = run(name, args.seeds, args.steps)
        ran = time.perf_counter() - start
        for file_name, fig in figures.figure_objects(results, style=args.style):
            file_name = f"{file_prefix(name)}_{file_name}"
            for path in figures.save(fig, out, file_name, ("png",), dpi=args.dpi):
                print(path)
        print(f"{name}: ran in {ran:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
