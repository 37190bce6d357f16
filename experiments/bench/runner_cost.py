"""The runner's per-step cost, and the runs-scaling grid for an accelerator.

**runner** (issue 15): what ``make_run`` keeps of what this machine gives the algorithm.
In one process, with calls interleaved (driftsim, hand-written, driftsim, ...; medians):

* ``runner ucb1``: ``jit(vmap(make_run(bernoulli, ucb, T)))`` over ``runs`` run keys (W1:
  K = 10, means ``~ U(0, 1)`` per run, T = 10,000, 100 runs) against a hand-written
  ``lax.scan`` of the same UCB1 (``c = sqrt(2)``): the reward uniforms drawn in bulk before
  the scan, a plain ``argmax`` (the first maximiser, not a random tie-break), the
  pseudo-regret accumulated in the carry, nothing logged per step.
* ``runner ogd-sgd``: ``make_run(regression_stream, ogd(sgd))`` (W3: d = 16, noise 0.1,
  learning rate 0.01, T = 100,000, 10 runs) against a hand-written scan of the same online
  gradient descent (the same optax SGD on ``(y_hat - y)^2 / 2``, features and label noise
  drawn in bulk, the dynamic regret ``(y_hat - f*)^2 / 2`` accumulated in the carry).

The jitted ``make_run`` program returns the per-step ``regret`` only, what a regret curve
needs: XLA never computes the metrics of the log that a jitted function does not return.

The ``driftsim`` row's note gives ``x hand-written`` = its run-steps/s over the hand-written
scan's (issue 15's target: at least 0.5); both reach the same regret within Monte Carlo
error (different random streams and tie-breaks, same algorithm and problem).

**gpu** (``driftsim bench --only gpu``): W1 UCB1, W2 disjoint LinUCB and ``drifting_users``
with shared LinUCB at 10^3 ... 10^6 parallel runs (``Sizes.gpu_runs``), one record per
size.  On a CPU the grid stops at ``Sizes.gpu_cpu_max_runs`` unless ``full`` is given too
(``--only gpu,full``).  Runs whose scan state would exceed ``Sizes.gpu_state_budget_mib`` go
through ``lax.map`` in batches (:func:`~experiments.bench.core.compiled_runs`); each record
notes its batch, the state's size and XLA's memory account of the program.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from experiments.bench.core import (
    Record,
    driftsim_record,
    seed_keys,
    time_driftsim,
    unavailable,
)

HAND = "hand-written scan"
DRIFTSIM = "driftsim"
#: issue 15: make_run at >= 50% of a hand-written scan of the same algorithm
RUNNER_TARGET = 0.5


# ------------------------------------------------------------------ hand-written scans


def hand_ucb1(num_arms: int, num_steps: int, c: float = math.sqrt(2.0)) -> Callable:
    """``keys (runs,) -> final pseudo-regret (runs,)``: UCB1 on Bernoulli arms with means
    ``~ U(0, 1)`` per run, as one jitted ``vmap`` of a ``lax.scan``.

    Per run: the means and all ``T`` reward uniforms are drawn before the scan; a step
    computes ``Q(a) + c sqrt(ln t / N(a))`` (``+inf`` for untried arms), plays the first
    maximiser, draws its reward ``1[u_t < mu_a]`` and adds ``max(mu) - mu_a`` to the regret.
    """

    def run(key):
        key_means, key_rewards = jax.random.split(key)
        means = jax.random.uniform(key_means, (num_arms,))
        uniforms = jax.random.uniform(key_rewards, (num_steps,))
        best = jnp.max(means)

        def step(carry, u):
            counts, sums, regret = carry
            played = counts > 0
            safe = jnp.where(played, counts, 1.0)
            log_t = jnp.log(jnp.maximum(jnp.sum(counts), 1.0))
            index = jnp.where(played, sums / safe + c * jnp.sqrt(log_t / safe), jnp.inf)
            arm = jnp.argmax(index)
            reward = (u < means[arm]).astype(jnp.float32)
            counts = counts.at[arm].add(1.0)
            sums = sums.at[arm].add(reward)
            return (counts, sums, regret + (best - means[arm])), None

        zeros = jnp.zeros((num_arms,), jnp.float32)
        (_, _, regret), _ = jax.lax.scan(step, (zeros, zeros, jnp.float32(0.0)), uniforms)
        return regret

    return jax.jit(jax.vmap(run))


def hand_sgd(
    dim: int,
    num_steps: int,
    learning_rate: float = 0.01,
    noise: float = 0.1,
    param_scale: float = 1.0,
    bias_scale: float = 1.0,
) -> Callable:
    """``keys (runs,) -> final dynamic regret (runs,)``: online linear regression by optax
    SGD on ``(w.x + b - y)^2 / 2``, one jitted ``vmap`` of a ``lax.scan``.

    Per run: ``w* ~ N(0, param_scale^2 / d I)``, ``b* ~ N(0, bias_scale^2)``, and all
    ``T`` feature vectors ``x ~ N(0, I_d)`` and label noises drawn before the scan; a step
    predicts ``y_hat = w.x + b``, adds ``(y_hat - f*)^2 / 2`` to the regret (``f* = w*.x +
    b*``), then takes one SGD step on the label ``y = f* + noise z``.
    """
    optimizer = optax.sgd(learning_rate)

    def run(key):
        key_w, key_b, key_data = jax.random.split(key, 3)
        w_star = param_scale / math.sqrt(dim) * jax.random.normal(key_w, (dim,))
        b_star = bias_scale * jax.random.normal(key_b, ())
        data = jax.random.normal(key_data, (num_steps, dim + 1))

        def loss(params, x, y):
            return 0.5 * jnp.square(params[0] @ x + params[1] - y)

        def step(carry, row):
            params, opt_state, regret = carry
            x, z = row[:dim], row[dim]
            truth = w_star @ x + b_star
            prediction = params[0] @ x + params[1]
            grads = jax.grad(loss)(params, x, truth + noise * z)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            params = optax.apply_updates(params, updates)
            return (params, opt_state, regret + 0.5 * jnp.square(prediction - truth)), None

        params = (jnp.zeros((dim,), jnp.float32), jnp.float32(0.0))
        init = (params, optimizer.init(params), jnp.float32(0.0))
        (_, _, regret), _ = jax.lax.scan(step, init, data)
        return regret

    return jax.jit(jax.vmap(run))


# ------------------------------------------------------------------ interleaved timing


@dataclasses.dataclass
class Interleaved:
    """Median wall seconds of each program's calls, taken in turn, and its last result."""

    first_seconds: dict[str, float]
    seconds: dict[str, float]
    results: dict[str, np.ndarray]


def interleaved(programs: dict[str, Callable[[], object]], repeats: int) -> Interleaved:
    """Call every program once (compile), then ``repeats`` rounds of one call each, in turn."""
    first, results = {}, {}
    for name, program in programs.items():
        start = time.perf_counter()
        results[name] = jax.block_until_ready(program())
        first[name] = time.perf_counter() - start
    walls: dict[str, list[float]] = {name: [] for name in programs}
    for _ in range(repeats):
        for name, program in programs.items():
            start = time.perf_counter()
            results[name] = jax.block_until_ready(program())
            walls[name].append(time.perf_counter() - start)
    seconds = {name: statistics.median(w) for name, w in walls.items()}
    return Interleaved(first, seconds, {k: np.asarray(v) for k, v in results.items()})


def _pair_records(
    workload: str, runs: int, steps: int, timing: Interleaved, regrets: dict[str, np.ndarray]
) -> list[Record]:
    records = []
    speed = {name: runs * steps / s for name, s in timing.seconds.items()}
    for name in (DRIFTSIM, HAND):
        record = Record(
            workload=workload,
            implementation=name,
            runs=runs,
            steps=steps,
            steps_per_s=speed[name],
            compile_s=max(timing.first_seconds[name] - timing.seconds[name], 0.0),
            regret=float(np.mean(regrets[name])),
            seconds=timing.seconds[name],
        )
        records.append(record)
    ratio = speed[DRIFTSIM] / speed[HAND]
    records[0].note = (
        f"{ratio:.3f}x hand-written (make_run's run-steps/s over the hand-written scan's, "
        "interleaved in one process)"
    )
    records[1].note = (
        "lax.scan of the same algorithm: random numbers drawn in bulk, plain argmax, "
        "regret in the carry, nothing logged per step"
    )
    for record, name in zip(records, (DRIFTSIM, HAND)):
        values = np.asarray(regrets[name], np.float64).reshape(-1)
        if values.size > 1:
            error = values.std(ddof=1) / math.sqrt(values.size)
            record.note += f"; regret s.e. {error:.3g} over {values.size} runs"
    return records


def runner_ratio(records: list[Record], workload: str) -> float | None:
    """make_run's run-steps/s over the hand-written scan's, from a suite's records."""
    rows = {r.implementation: r for r in records if r.workload == workload and r.steps_per_s}
    if DRIFTSIM not in rows or HAND not in rows:
        return None
    return rows[DRIFTSIM].steps_per_s / rows[HAND].steps_per_s


def runner_pair(
    workload: str, env, agent, env_params, hparams, hand: Callable, runs: int, steps: int, repeats
) -> list[Record]:
    """``jit(vmap(make_run(env, agent, steps)))`` over ``runs`` keys against ``hand(keys)``
    (a hand-written scan returning each run's final regret), interleaved: two records."""
    from experiments.runner import make_run

    run = jax.vmap(make_run(env, agent, steps), in_axes=(0, None, None))
    # only the regret leaves the program, as in the hand-written scan: XLA never computes
    # the metrics a jitted function does not return
    program = jax.jit(lambda keys, env_params, hparams: run(keys, env_params, hparams).regret)
    keys = seed_keys(0, runs)
    hand_keys = seed_keys(1, runs)
    programs = {
        DRIFTSIM: lambda: program(keys, env_params, hparams),
        HAND: lambda: hand(hand_keys),
    }
    timing = interleaved(programs, repeats)
    regrets = {
        DRIFTSIM: np.asarray(timing.results[DRIFTSIM], np.float64).sum(axis=-1),
        HAND: timing.results[HAND],
    }
    return _pair_records(workload, runs, steps, timing, regrets)


# ------------------------------------------------------------------ the accelerator grid


def batch_size(state_bytes_per_run: float, runs: int, budget_mib: float) -> int | None:
    """None (a plain ``vmap``) when the state of ``runs`` runs fits ``budget_mib``, else
    the largest divisor of ``runs`` whose state fits (at least 1)."""
    fit = int(budget_mib * 2**20 // max(state_bytes_per_run, 1.0))
    if runs <= fit:
        return None
    batch = max(1, min(fit, runs))
    while runs % batch:
        batch -= 1
    return batch


def gpu_grid(problems, sizes, repeats: int) -> list[Record]:
    """Each ``(workload, env, agent, env_params, hparams, steps)`` of ``problems`` at
    ``sizes.gpu_runs`` parallel runs: the whole grid on an accelerator or with
    ``sizes.gpu_full``, else up to ``sizes.gpu_cpu_max_runs``."""
    from experiments.bench.scaling import state_bytes

    accelerator = jax.default_backend() != "cpu"
    chosen = [
        r for r in sizes.gpu_runs if accelerator or sizes.gpu_full or r <= sizes.gpu_cpu_max_runs
    ]
    skipped = [r for r in sizes.gpu_runs if r not in chosen]
    device = str(jax.devices()[0])
    records = []
    for workload, env, agent, env_params, hparams, steps in problems:
        per_run = state_bytes(env, agent, 1)
        for runs in chosen:
            batch = batch_size(per_run, runs, sizes.gpu_state_budget_mib)
            try:
                timing = time_driftsim(
                    env,
                    agent,
                    steps,
                    runs,
                    max(1, min(repeats, 2)),
                    env_params=env_params,
                    hparams=hparams,
                    record_every=steps,
                    batch_size=batch,
                )
            except Exception as err:  # noqa: BLE001 - out of memory at a size: say so, go on
                reason = (
                    f"{type(err).__name__}: {str(err).splitlines()[0][:160] if str(err) else ''}"
                )
                records.append(unavailable(f"{workload} {runs:,} runs", DRIFTSIM, reason))
                continue
            record = driftsim_record(f"{workload} {runs:,} runs", DRIFTSIM, timing, runs, steps)
            record.note = (
                f"{device}; state {per_run * runs / 2**20:,.1f} MiB, XLA program "
                f"{timing.memory_bytes / 2**20:,.1f} MiB; "
                + ("plain vmap" if batch is None else f"vmap batched by {batch:,} (lax.map)")
            )
            records.append(record)
        if skipped:
            records.append(
                Record(
                    workload=f"{workload} {skipped[0]:,}+ runs",
                    implementation=DRIFTSIM,
                    note=(
                        f"not measured: {', '.join(f'{r:,}' for r in skipped)} runs are for an "
                        "accelerator (on a CPU: driftsim bench --only gpu,full)"
                    ),
                )
            )
    return records


__all__ = [
    "HAND",
    "RUNNER_TARGET",
    "batch_size",
    "gpu_grid",
    "hand_sgd",
    "hand_ucb1",
    "interleaved",
    "runner_pair",
    "runner_ratio",
]
