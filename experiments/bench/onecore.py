"""driftsim's main rows of W1–W3 again, in a child process pinned to one CPU core.

XLA's CPU backend splits every large enough kernel across the cores the process may use
(``outer_dimension_partitions`` in the compiled HLO), and a scan step is a chain of small
kernels.  On a shared 2-core machine the second half of a split kernel often waits for a
busy core, so the same program ran 1.5–2x faster pinned to one core for Thompson sampling
and LinUCB, and throughput swung between runs.  The numpy baselines use one core; the
``driftsim [1 core]`` rows are the like-for-like comparison, and show how much of a
difference between runs is the machine.  The affinity must be set before JAX starts its
thread pool, hence the child process (``python -m experiments.bench.onecore``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

LABEL = "driftsim [1 core]"
#: The workloads whose main driftsim rows are repeated on one core.
WORKLOADS = ("W1", "W2", "W3")


def available() -> bool:
    """Whether the process may use several cores and can pin a child to one."""
    return hasattr(os, "sched_getaffinity") and len(os.sched_getaffinity(0)) > 1


def records(names: list[str], sizes, repeats: int) -> list[dict[str, Any]]:
    """Run the child for the workloads in ``names`` (W1–W3) and return its records as
    dicts (``[]`` when there is nothing to do or one core only)."""
    chosen = [name for name in names if name in WORKLOADS]
    if not chosen or not available():
        return []
    spec = {"names": chosen, "repeats": repeats, "sizes": sizes_to_json(sizes)}
    result = subprocess.run(
        [sys.executable, "-m", "experiments.bench.onecore", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        return [
            {"workload": name, "implementation": LABEL, "note": f"not available: {tail[0]}"}
            for name in chosen
        ]
    return json.loads(result.stdout.strip().splitlines()[-1])


def sizes_to_json(sizes) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in vars(sizes).items()}


def _child(spec: dict[str, Any]) -> list[dict[str, Any]]:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    import dataclasses

    import agents
    import simulator
    from experiments.bench import workloads as wl
    from experiments.bench.core import driftsim_record, time_driftsim

    fields = {f.name for f in dataclasses.fields(wl.Sizes)}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in spec["sizes"].items()}
    sizes = wl.Sizes(**{k: v for k, v in values.items() if k in fields})
    repeats = spec["repeats"]
    out = []

    def measure(workload, env, agent, steps, runs, env_params=None, hparams=None):
        timing = time_driftsim(
            env, agent, steps, runs, repeats, env_params=env_params, hparams=hparams
        )
        record = driftsim_record(workload, LABEL, timing, runs, steps, note="pinned to one core")
        out.append(record.to_dict())

    if "W1" in spec["names"]:
        env = simulator.make("bernoulli", num_arms=sizes.w1_arms)
        for name, policy in (("ucb", "ucb1"), ("thompson", "thompson")):
            if policy in sizes.w1_policies:
                agent = agents.make(name, num_arms=sizes.w1_arms)
                measure(f"W1 {policy}", env, agent, sizes.w1_steps, sizes.w1_runs)
    if "W2" in spec["names"]:
        agent, hparams = wl.w2_agent(sizes)
        runs = max(sizes.w2_runs)
        measure(
            f"W2 linucb {runs} runs", wl.w2_env(sizes), agent, sizes.w2_steps, runs, None, hparams
        )
    if "W3" in spec["names"]:
        env, env_params = wl.w3_env(sizes)
        for optimizer in ("sgd", "adam"):
            agent, hparams = wl.w3_agent(sizes, optimizer)
            measure(
                f"W3 {optimizer}", env, agent, sizes.w3_steps, sizes.w3_runs, env_params, hparams
            )
    return out


if __name__ == "__main__":
    from experiments import threefry

    threefry.use_default()  # this child process is driftsim's own
    print(json.dumps(_child(json.loads(sys.argv[1]))))
