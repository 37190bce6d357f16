"""Run a resolved experiment: compiled sweeps over points × seeds, in time chunks.

For each compile group the program is ``vmap`` over points (outer) of ``vmap`` over seeds
(inner) of the scan in :mod:`experiments.runner`, jitted once at the top.  The same seed
keys serve every point and every agent (common random numbers).  Time is cut into chunks:
the progress line ticks and a checkpoint is written after each; since step keys are
``fold_in(key, t)``, results do not depend on the chunk size.  With several devices the
seed axis is sharded over a ``Mesh`` (``jax.sharding``); results do not depend on the
number of devices, or of hosts (see :mod:`experiments.distributed`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import sys
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend.core import Literal

from experiments import feedback_metrics, program_cache
from experiments.checkpoint import is_key
from experiments.distributed import global_array, to_host
from experiments.plan import PointGroup
from experiments.program_cache import Program
from experiments.runner import advance, init_carry, split_run_key, step_once

#: Stored metrics beyond this many bytes make the default ``record_every`` coarser.
MEMORY_BUDGET_BYTES = 1 << 30
#: Key of the dummy point axis of a group that sweeps nothing traced.
POINT_PLACEHOLDER = "_point"
#: Most (point, seed) lanes run in one vectorised batch; larger grids are batched over points.
MAX_LANES = 1 << 16
#: Target number of (point × seed × step) evaluations per chunk when none is given.
CHUNK_WORK = 20_000_000


def seed_keys(seed: int, num_seeds: int) -> jax.Array:
    """The ``(num_seeds,)`` typed keys of an experiment's seeds: seed ``i`` is
    ``fold_in(key(seed), i)``, independent of ``num_seeds`` (more seeds extend a run
    without changing the first ones).

    The one helper for every experiment mode (sweeps here, off-policy evaluation in
    :mod:`experiments.offpolicy`), so that the same ``seed`` gives the same keys.
    """
    return _fold_in_each(jax.random.key(seed), jnp.arange(num_seeds, dtype=jnp.uint32))


def _fold_in_every_index(root: jax.Array, indices: jax.Array) -> jax.Array:
    return jax.vmap(lambda i: jax.random.fold_in(root, i))(indices)


_fold_in_each = Program(_fold_in_every_index)


def _divisors(n: int) -> list[int]:
    small = [d for d in range(1, int(math.isqrt(n)) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))


def choose_record_every(num_steps: int, num_values: int, num_metrics: int) -> int:
    """The smallest divisor of ``num_steps`` whose stored metrics fit the memory budget."""
    for stride in _divisors(num_steps):
        if num_values * (num_steps // stride) * num_metrics * 4 <= MEMORY_BUDGET_BYTES:
            return stride
    return num_steps


def choose_chunk_size(num_steps: int, record_every: int, runs: int) -> int:
    """A multiple of ``record_every`` dividing ``num_steps``, near ``CHUNK_WORK / runs`` steps."""
    target = max(record_every, CHUNK_WORK // max(runs, 1))
    candidates = [d for d in _divisors(num_steps) if d % record_every == 0]
    fitting = [d for d in candidates if d <= target]
    return max(fitting) if fitting else min(candidates)


def _apply_traced(env_params, hparams, traced: dict[str, Any]):
    """Base params with one point's traced values (tracers inside vmap) put in place."""
    for key, value in traced.items():
        if key == POINT_PLACEHOLDER:
            continue
        scope, *path = key.split(".")
        if scope == "env":
            env_params = _replace_unchecked(env_params, path, value)
        else:
            hparams = _replace_unchecked(hparams, path, value)
    return env_params, hparams


def _replace_unchecked(params, path, value):
    name, rest = path[0], path[1:]
    if rest:
        return params.replace(**{name: _replace_unchecked(getattr(params, name), rest, value)})
    return params.replace(**{name: value})


@dataclasses.dataclass
class CompiledGroup:
    """The jitted init and chunk programs of one :class:`PointGroup`."""

    init: Callable
    chunk: Callable


def point_batch_size(num_points: int, num_seeds: int) -> int | None:
    """Points evaluated together: all of them unless points × seeds exceeds ``MAX_LANES``,
    then batches (``lax.map`` with ``batch_size``) so memory and cache use stay bounded."""
    if num_points * num_seeds <= MAX_LANES:
        return None
    return max(1, MAX_LANES // max(num_seeds, 1))


def compile_group(group: PointGroup, record_every: int, num_seeds: int) -> CompiledGroup:
    """``init(traced, keys, env_params, hparams) -> carry`` over (points, seeds), and
    ``chunk(mask, treedef)``: the jitted chunk program for a carry whose leaves flagged in
    ``mask`` are the same in every run (see :func:`shared_leaves_mask`)."""
    # the programs close over these values only (not ``group``, whose parameter values
    # are arguments): they are what the program cache walks (:mod:`program_cache`)
    env, agent, metrics = group.env, group.agent, group.metrics
    num_points = len(group.indices)
    batch_size = point_batch_size(num_points, num_seeds)

    def init_point(traced, keys, env_params, hparams):
        env_params, hparams = _apply_traced(env_params, hparams, traced)

        def init_seed(key):
            keys = split_run_key(key)
            return init_carry(env, agent, keys, env_params, hparams, True, metrics)

        return jax.vmap(init_seed)(keys)

    @functools.cache
    def chunk(mask: tuple[bool, ...], treedef: Any) -> Callable:
        def chunk_point(batched, shared, traced, keys, env_params, hparams, t_start, num_steps):
            env_params, hparams = _apply_traced(env_params, hparams, traced)

            def one_seed(leaves, key):
                carry = _merge_leaves(treedef, mask, leaves, shared)
                return advance(
                    env,
                    agent,
                    carry,
                    split_run_key(key),
                    env_params,
                    hparams,
                    t_start,
                    num_steps,
                    record_every,
                    metrics=metrics,
                )

            return jax.vmap(one_seed)(batched, keys)

        def chunk_points(batched, shared, traced, keys, env_params, hparams, t_start, num_steps):
            def batch(xs):
                return jax.vmap(chunk_point, in_axes=(0, None, 0, None, None, None, None, None))(
                    xs[0], shared, xs[1], keys, env_params, hparams, t_start, num_steps
                )

            if batch_size is None:
                return batch((batched, traced))
            return _map_in_batches(batch, (batched, traced), num_points, batch_size)

        # the batched carry is donated: the scan updates it in place instead of copying
        # every leaf (a catalog-sized embedding table) into the loop at each chunk
        return Program(chunk_points, static_argnums=(7,), donate_argnums=(0,))

    init_points = jax.vmap(init_point, in_axes=(0, None, None, None))
    init = Program(init_points, identity=(init_point, "vmap over points (0, None, None, None)"))
    return CompiledGroup(init=init, chunk=chunk)


def _each_leaf_shared(leaves: list[jax.Array]) -> list[jax.Array]:
    out = []
    for leaf in leaves:
        data = jax.random.key_data(leaf) if is_key(leaf) else leaf
        flat = data.reshape((data.shape[0] * data.shape[1],) + data.shape[2:])
        out.append(jnp.all(flat == flat[:1]))
    return out


_leaves_shared = Program(_each_leaf_shared)


def shared_leaves_mask(carry: Any) -> tuple[bool, ...]:
    """For each carry leaf (axes: points, seeds, ...): is it the same in every run?

    Such leaves (step counters, schedules, a delay buffer's fill level) enter the chunk
    program unbatched, so a ``lax.cond`` on them stays a real branch under ``vmap``
    instead of running both branches every step (periodic training, batched feedback).
    """
    return tuple(bool(flag) for flag in _leaves_shared(jax.tree.leaves(carry)))


def _batched_outputs(jaxpr: Any, flags: list[bool]) -> list[bool]:
    """Which outputs of ``jaxpr`` depend on an input flagged True.  Conservative: an
    equation with any flagged input flags all its outputs (sub-jaxprs included), so it
    flags at least what ``vmap`` would batch."""
    batched = dict(zip(jaxpr.invars, flags))
    for eqn in jaxpr.eqns:
        flag = any(batched.get(v, False) for v in eqn.invars if not isinstance(v, Literal))
        for v in eqn.outvars:
            batched[v] = flag
    return [False if isinstance(v, Literal) else batched.get(v, False) for v in jaxpr.outvars]


def stable_shared_mask(group: PointGroup, carry: Any, keys: jax.Array, traced: dict) -> tuple:
    """The carry leaves that are the same in every run now AND that no step can make
    differ: :func:`shared_leaves_mask` intersected with the fixpoint of one step's data flow
    from the per-run inputs (the run key, the point's traced values).

    Computed once per group, it never changes between chunks (a value-based mask does: the
    weights, optimizer moments and buffers of every run are equal at init and differ after
    the first chunk, so the chunk program would compile twice), and a leaf it flags is
    guaranteed to stay shared, so taking run ``(0, 0)``'s copy is exact at every chunk.
    """

    def one_step(carry, key, traced, t):
        env_params, hparams = _apply_traced(group.env_params, group.hparams, traced)
        keys = split_run_key(key)
        env, agent = group.env, group.agent
        return step_once(env, agent, carry, keys, t, env_params, hparams, None, group.metrics)[0]

    def one_run(x, axes):  # the shape of one run's slice: no data moves between hosts
        return jax.ShapeDtypeStruct(x.shape[axes:], x.dtype)

    shared_now = shared_leaves_mask(carry)

    def fixpoint() -> tuple[bool, ...]:
        closed = jax.make_jaxpr(one_step)(
            jax.tree.map(lambda x: one_run(x, 2), carry),
            one_run(keys, 1),
            {k: one_run(v, 1) for k, v in traced.items()},
            jax.ShapeDtypeStruct((), jnp.int32),
        )
        batched = [not shared for shared in shared_now]
        num_rest = len(closed.jaxpr.invars) - len(batched)  # key and traced values, then t
        while True:
            out = _batched_outputs(closed.jaxpr, batched + [True] * (num_rest - 1) + [False])
            grown = [a or b for a, b in zip(batched, out)]
            if grown == batched:
                return tuple(not b for b in batched)
            batched = grown

    # a function of the step's code, the carry's shapes and which leaves are shared now
    return program_cache.cached_flags((one_step, shared_now), fixpoint, (carry, keys, traced))


def _first_run_of_each(leaves: list[jax.Array]) -> list[jax.Array]:
    return [leaf[0, 0] for leaf in leaves]


_first_runs = Program(_first_run_of_each)


def _split_leaves(carry: Any, mask: tuple[bool, ...]) -> tuple[list, list]:
    leaves = jax.tree.leaves(carry)
    batched = [leaf for leaf, shared in zip(leaves, mask) if not shared]
    shared = _first_runs([leaf for leaf, is_shared in zip(leaves, mask) if is_shared])
    return batched, shared


def _merge_leaves(treedef: Any, mask: tuple[bool, ...], batched: list, shared: list) -> Any:
    batched_iter, shared_iter = iter(batched), iter(shared)
    leaves = [next(shared_iter) if is_shared else next(batched_iter) for is_shared in mask]
    return jax.tree.unflatten(treedef, leaves)


def _map_in_batches(fn: Callable, xs: Any, size: int, batch_size: int) -> Any:
    """``fn`` over the leading axis of ``xs`` in sequential batches (``lax.map``), padding
    the last batch with copies of the last entry (explicit shapes: zero-size leaves work)."""
    num_batches = -(-size // batch_size)
    padded = num_batches * batch_size

    def split(x):
        if padded > size:
            x = jnp.concatenate([x, jnp.repeat(x[-1:], padded - size, axis=0)])
        return x.reshape((num_batches, batch_size) + x.shape[1:])

    out = jax.lax.map(fn, jax.tree.map(split, xs))
    return jax.tree.map(lambda y: y.reshape((padded,) + y.shape[2:])[:size], out)


class Progress:
    """A one-line progress report per chunk: steps done, steps/s, ETA (to stderr)."""

    def __init__(self, total_steps: int, enabled: bool = True, stream=None):
        self.total = total_steps
        self.done = 0
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.start = time.perf_counter()
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def tick(self, label: str, steps: int, runs: int) -> None:
        self.done += steps
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.start
        rate = self.done / elapsed if elapsed > 0 else float("inf")
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        width = 24
        filled = int(width * self.done / max(self.total, 1))
        line = (
            f"[{'#' * filled}{'.' * (width - filled)}] {label}: "
            f"{self.done:,}/{self.total:,} steps, {rate * runs:,.0f} run-steps/s, ETA {eta:,.0f}s"
        )
        end = "\r" if self.tty and self.done < self.total else "\n"
        print(line.ljust(100), end=end, file=self.stream, flush=True)


def _mesh_sharding():
    """A sharding of the seed axis over every device, or None with a single device."""
    devices = jax.devices()
    if len(devices) == 1:
        return None
    mesh = jax.sharding.Mesh(np.array(devices), ("seeds",))
    return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("seeds"))


def padded_seed_keys(seed: int, num_seeds: int) -> tuple[jax.Array, int]:
    """Seed keys padded to a multiple of the device count and sharded over the devices
    of every host (each process builds the same keys and keeps its own shards)."""
    sharding = _mesh_sharding()
    num_devices = len(jax.devices())
    count = num_seeds if sharding is None else -(-num_seeds // num_devices) * num_devices
    return global_array(seed_keys(seed, count), sharding), count


class GroupOutput(NamedTuple):
    """What one compile group's runs produced.

    Attributes:
      metrics: ``{name: (points, seeds, recorded)}``.
      invalid_actions: ``(points, seeds)`` int32, actions outside the action space per run
        (zeros where the environment expects no arm index).
      first_invalid_action: ``(points, seeds)`` int32, the first such action (0 if none).
      finals: ``{name: (points, seeds, ...)}`` per-run values at the horizon
        (:func:`final_values`).
    """

    metrics: dict[str, np.ndarray]
    invalid_actions: np.ndarray
    first_invalid_action: np.ndarray
    finals: dict[str, np.ndarray] = {}


def run_group(
    group: PointGroup,
    keys: jax.Array,
    num_seeds: int,
    num_steps: int,
    chunk_size: int,
    record_every: int,
    progress: Progress,
    label: str,
    checkpoint: Any = None,
    on_chunk: Callable[[int, dict[str, np.ndarray]], None] | None = None,
) -> GroupOutput:
    """Run one compile group to the horizon: metric arrays (points, seeds, recorded) and
    each run's invalid actions (:class:`GroupOutput`).

    ``checkpoint`` (optional) has ``load(treedef_like) -> (t_done, carry, logs) | None`` and
    ``save(t_done, carry, logs)``; a run resumed from it gives the same numbers.
    ``on_chunk(steps_before, metrics_so_far)`` (optional) is called after every chunk
    (live tracking).
    """
    compiled = compile_group(group, record_every, len(keys))
    num_points = len(group.indices)
    traced = {k: jnp.asarray(v) for k, v in group.traced.items()}
    traced.setdefault(POINT_PLACEHOLDER, jnp.zeros((num_points,), jnp.float32))
    env_params, hparams = group.env_params, group.hparams

    carry, logs, t_done = None, [], 0
    if checkpoint is not None:
        like = jax.eval_shape(compiled.init, traced, keys, env_params, hparams)
        restored = checkpoint.load(like)
        if restored is not None:
            t_done, carry, logs = restored
            progress.tick(label, t_done, num_points * num_seeds)
    if carry is None:
        carry = compiled.init(traced, keys, env_params, hparams)
    mask = stable_shared_mask(group, carry, keys, traced)  # once: one chunk compilation
    while t_done < num_steps:
        steps = min(chunk_size, num_steps - t_done)
        batched, shared = _split_leaves(carry, mask)
        program = compiled.chunk(mask, jax.tree.structure(carry))
        carry, log = program(batched, shared, traced, keys, env_params, hparams, t_done, steps)
        logs.append({name: to_host(value)[:, :num_seeds] for name, value in log._asdict().items()})
        if on_chunk is not None:  # before the checkpoint: a resume rewrites, never skips
            on_chunk(t_done, _concatenate(logs))
        t_done += steps
        if checkpoint is not None:
            checkpoint.save(t_done, carry, logs)
        progress.tick(label, steps, num_points * num_seeds)
    finals = final_values(group, carry, num_seeds)
    check = carry.action_check
    if check is None:
        zeros = np.zeros((num_points, num_seeds), np.int32)
        return GroupOutput(_concatenate(logs), zeros, zeros, finals)
    count, first = (to_host(x)[:, :num_seeds] for x in (check.count, check.first))
    return GroupOutput(_concatenate(logs), count, first, finals)


def final_values(group: PointGroup, carry: Any, num_seeds: int) -> dict[str, np.ndarray]:
    """Per-run values at the horizon: the exposure Lorenz curve ``lorenz`` (points, seeds,
    ``LORENZ_POINTS``) when the group logs ``exposure_gini``."""
    if "exposure_gini" not in group.metrics:
        return {}
    exposure = to_host(carry.watch.exposure)[:, :num_seeds]
    return {"lorenz": feedback_metrics.lorenz_curve(exposure)}


def _concatenate(logs: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {name: np.concatenate([log[name] for log in logs], axis=-1) for name in logs[0]}
