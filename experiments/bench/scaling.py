"""How driftsim's throughput scales: with parallel runs, with d and K, with the catalog.

* **runs**: steps/s of W1 UCB1 and W2 LinUCB against the number of parallel runs
  (1 … 4096), for the plain ``vmap`` over runs and for the ``vmap`` cut into batches that
  ``lax.map`` runs one after another (:func:`~experiments.bench.core.compiled_runs` with
  ``batch_size``).  A plain ``vmap`` advances every run by one step before the next step, so
  once the runs' state outgrows the cache each step streams it from memory; a batch keeps
  its state in cache for the whole horizon.
* **d, K**: disjoint LinUCB on W2's problem with 100 runs, one of d and K varied.
* **catalog**: ``drifting_users`` with shared LinUCB (100 runs) against ``num_items``.

Every point records steps/s, compile seconds, the state size (bytes of the scan carry)
XLA's memory account of the compiled program (arguments, outputs and temporaries: what
the point needs), and the process's peak resident memory so far (``getrusage``: the JAX
runtime and every earlier point included, so it only grows).
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import numpy as np

import agents
import simulator
from experiments.bench.core import Unavailable, peak_memory_mib, time_driftsim
from experiments.bench.envs import DisjointLinearBandit
from experiments.runner import init_carry, split_run_key


@dataclasses.dataclass(frozen=True)
class ScalingSizes:
    """Sizes of the scaling study.  The defaults are the trimmed grid of the default suite
    (a few minutes in all); :meth:`full` is the whole grid (``driftsim bench --only
    scaling,full``)."""

    runs: tuple[int, ...] = (1, 16, 256, 4096)
    batch_size: int = 256
    batched_runs: tuple[int, ...] = (4096,)
    w1_steps: int = 1_000
    w2_steps: int = 100
    fixed_runs: int = 100
    dims: tuple[int, ...] = (4, 16, 64)
    arms: tuple[int, ...] = (8, 32, 128)
    catalog_sizes: tuple[int, ...] = (100, 1_000, 10_000)
    catalog_steps: int = 100
    record_every: int = 100

    @classmethod
    def full(cls) -> ScalingSizes:
        """The whole grid: runs 1, 8, ..., 4096 (batched above the batch size), d 4 ... 64."""
        return cls(
            runs=(1, 8, 64, 512, 4096),
            batched_runs=(512, 4096),
            w2_steps=200,
            dims=(4, 8, 16, 32, 64),
            catalog_steps=200,
        )


def shared_linucb(env):
    """Shared LinUCB sized to ``env``'s spec (the ``drifting_users`` workloads)."""
    spec = env.spec
    return agents.make(
        "linucb",
        num_arms=spec.num_arms,
        context_dim=spec.context_dim,
        arm_dim=spec.arm_dim,
        mode="shared",
    )


def tiny() -> ScalingSizes:
    """A seconds-long study for tests."""
    return ScalingSizes(
        runs=(1, 8),
        batch_size=4,
        batched_runs=(8,),
        w1_steps=20,
        w2_steps=10,
        fixed_runs=4,
        dims=(4,),
        arms=(4,),
        catalog_sizes=(50,),
        catalog_steps=10,
        record_every=5,
    )


class ScalingPoint(NamedTuple):
    """One measured point of the study."""

    study: str  # "runs", "dim", "arms" or "catalog"
    workload: str  # "W1 ucb1", "W2 linucb", "drifting_users linucb"
    variant: str  # "vmap" or "vmap batched by B"
    x: int
    runs: int
    steps: int
    steps_per_s: float
    compile_s: float
    state_mib: float
    program_mib: float
    peak_memory_mib: float


def state_bytes(env, agent, num_runs: int) -> float:
    """Bytes of the scan carry (environment state, agent state, timestep) for ``num_runs``."""
    carry = jax.eval_shape(
        lambda key: init_carry(
            env, agent, split_run_key(key), env.default_params(), agent.default_hparams()
        ),
        jax.random.key(0),
    )
    per_run = sum(np.prod(x.shape) * x.dtype.itemsize for x in jax.tree.leaves(carry))
    return float(per_run * num_runs)


def _point(study, workload, env, agent, hparams, steps, runs, x, repeats, sizes, batch=None):
    steps = max(sizes.record_every, steps - steps % sizes.record_every)
    timing = time_driftsim(
        env,
        agent,
        steps,
        runs,
        repeats,
        hparams=hparams,
        record_every=sizes.record_every,
        batch_size=batch,
    )
    return ScalingPoint(
        study=study,
        workload=workload,
        variant="vmap" if batch is None else f"vmap batched by {batch}",
        x=x,
        runs=runs,
        steps=steps,
        steps_per_s=runs * steps / timing.seconds,
        compile_s=timing.compile_s,
        state_mib=state_bytes(env, agent, runs) / 2**20,
        program_mib=timing.memory_bytes / 2**20,
        peak_memory_mib=peak_memory_mib(),
    )


def _linucb(num_arms, dim):
    if "linucb" not in agents.names():
        raise Unavailable("agent 'linucb' is not registered yet")
    agent = agents.make("linucb", num_arms=num_arms, context_dim=dim, arm_dim=0, mode="disjoint")
    return agent, agent.default_hparams()


def run(sizes: ScalingSizes | None = None, repeats: int = 3) -> list[ScalingPoint]:
    """Measure every point of the study (``min(repeats, 2)`` timed calls each)."""
    sizes = sizes or ScalingSizes()
    repeats = max(1, min(repeats, 2))
    points: list[ScalingPoint] = []
    studies = []
    if "ucb" in agents.names():
        ucb = agents.make("ucb", num_arms=10)
        studies.append(
            (
                "W1 ucb1",
                simulator.make("bernoulli", num_arms=10),
                ucb,
                ucb.default_hparams(),
                sizes.w1_steps,
            )
        )
    if "linucb" in agents.names():
        agent, hparams = _linucb(32, 16)
        studies.append(("W2 linucb", DisjointLinearBandit(32, 16), agent, hparams, sizes.w2_steps))
    for workload, env, agent, hparams, steps in studies:
        for runs in sizes.runs:
            points.append(
                _point("runs", workload, env, agent, hparams, steps, runs, runs, repeats, sizes)
            )
            if runs > sizes.batch_size and runs in sizes.batched_runs:
                points.append(
                    _point(
                        "runs",
                        workload,
                        env,
                        agent,
                        hparams,
                        steps,
                        runs,
                        runs,
                        repeats,
                        sizes,
                        batch=sizes.batch_size,
                    )
                )
    if "linucb" in agents.names():
        for dim in sizes.dims:
            agent, hparams = _linucb(32, dim)
            env = DisjointLinearBandit(32, dim)
            points.append(
                _point(
                    "dim",
                    "W2 linucb",
                    env,
                    agent,
                    hparams,
                    sizes.w2_steps,
                    sizes.fixed_runs,
                    dim,
                    repeats,
                    sizes,
                )
            )
        for arms in sizes.arms:
            agent, hparams = _linucb(arms, 16)
            env = DisjointLinearBandit(arms, 16)
            points.append(
                _point(
                    "arms",
                    "W2 linucb",
                    env,
                    agent,
                    hparams,
                    sizes.w2_steps,
                    sizes.fixed_runs,
                    arms,
                    repeats,
                    sizes,
                )
            )
        if "drifting_users" in simulator.names():
            for items in sizes.catalog_sizes:
                env = simulator.make("drifting_users", num_items=items)
                agent = shared_linucb(env)
                points.append(
                    _point(
                        "catalog",
                        "drifting_users linucb",
                        env,
                        agent,
                        agent.default_hparams(),
                        sizes.catalog_steps,
                        sizes.fixed_runs,
                        items,
                        repeats,
                        sizes,
                    )
                )
    return points


def format_points(points: list[ScalingPoint]) -> str:
    header = (
        f"{'study':<8} {'workload':<22} {'variant':<20} {'x':>6} {'runs':>5} {'steps':>6} "
        f"{'steps/s':>13} {'compile s':>9} {'state MiB':>9} {'prog MiB':>9} {'peak MiB':>9}"
    )
    lines = [header, "-" * len(header)]
    for p in points:
        lines.append(
            f"{p.study:<8} {p.workload:<22} {p.variant:<20} {p.x:>6} {p.runs:>5} {p.steps:>6} "
            f"{p.steps_per_s:>13,.0f} {p.compile_s:>9.2f} {p.state_mib:>9.2f} "
            f"{p.program_mib:>9.2f} {p.peak_memory_mib:>9.0f}"
        )
    return "\n".join(lines)


def plot(points: list[ScalingPoint]):
    """Four panels: steps/s vs runs, vs d and K, vs catalog size, and memory vs runs.

    Returns ``(fig, axes)`` (a 2 x 2 array of axes); the caller saves the figure.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    with plt.style.context("default"):  # a peer library may have restyled matplotlib
        return _draw(plt, points)


def _draw(plt, points: list[ScalingPoint]):
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    ax_runs, ax_shape, ax_catalog, ax_memory = axes.ravel()

    def series(study, workload=None, variant=None):
        chosen = [
            p
            for p in points
            if p.study == study
            and (workload is None or p.workload == workload)
            and (variant is None or p.variant == variant)
        ]
        return sorted(chosen, key=lambda p: p.x)

    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    workloads = sorted({p.workload for p in points if p.study == "runs"})
    for i, workload in enumerate(workloads):
        colour = colours[i % len(colours)]
        variants = sorted(
            {p.variant for p in points if p.study == "runs" and p.workload == workload}
        )
        for variant in variants:
            line = series("runs", workload, variant)
            style = "-o" if variant == "vmap" else "--s"
            ax_runs.plot(
                [p.x for p in line],
                [p.steps_per_s for p in line],
                style,
                color=colour,
                label=f"{workload}, {variant}",
            )
        line = series("runs", workload, "vmap")
        ax_memory.plot(
            [p.x for p in line],
            [p.program_mib for p in line],
            "-o",
            color=colour,
            label=f"{workload}: XLA program (args + outputs + temps)",
        )
        ax_memory.plot(
            [p.x for p in line],
            [p.state_mib for p in line],
            ":",
            color=colour,
            label=f"{workload}: scan state",
        )
    ax_runs.set(
        xscale="log",
        yscale="log",
        xlabel="parallel runs",
        ylabel="run-steps / s",
        title="Throughput vs parallel runs",
    )
    for study, label in (("dim", "d (K = 32)"), ("arms", "K (d = 16)")):
        line = series(study)
        if line:
            ax_shape.plot(
                [p.x for p in line], [p.steps_per_s for p in line], "-o", label=f"LinUCB vs {label}"
            )
    ax_shape.set(
        xscale="log",
        yscale="log",
        xlabel="d or K",
        ylabel="run-steps / s",
        title="Disjoint LinUCB, 100 runs",
    )
    line = series("catalog")
    if line:
        ax_catalog.plot(
            [p.x for p in line],
            [p.steps_per_s for p in line],
            "-o",
            label="drifting_users, shared LinUCB",
        )
    ax_catalog.set(
        xscale="log",
        xlabel="catalog size (num_items)",
        ylabel="run-steps / s",
        title="Throughput vs catalog size",
    )
    ax_memory.set(
        xscale="log",
        yscale="log",
        xlabel="parallel runs",
        ylabel="MiB",
        title="Memory vs parallel runs",
    )
    for ax in axes.ravel():
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
        ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return fig, axes
