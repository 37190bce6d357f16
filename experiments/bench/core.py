"""Timing harness and the record every benchmark produces.

driftsim is timed the way a user runs it: ``jax.jit(jax.vmap(make_run(env, agent, T)))``
over per-run keys, ``block_until_ready`` on the log.  The first call includes tracing and
compilation; the following ``repeats`` calls are steady state, and their median gives
``steps_per_s = runs * T / seconds``; ``compile_s = first call - median call``.  Plain
Python baselines are timed with the same clock, median of ``repeats``.  Process CPU time
is kept beside wall time: the machine is shared, and a CPU time much larger than the wall
time means several threads were busy.
"""

from __future__ import annotations

import dataclasses
import math
import os
import platform
import resource
import statistics
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from experiments.runner import make_run


class Unavailable(Exception):
    """An implementation or workload that cannot run here (missing agent, env or package)."""


@dataclasses.dataclass
class Record:
    """One workload × implementation measurement.

    Attributes:
      workload: ``W1``, ``W2``, ... with the variant (``W1 ucb1``).
      implementation: ``driftsim``, ``numpy loop``, ``numpy vectorized`` or a peer's name.
      runs: independent runs per timed call (per repeat for loops and peers).
      steps: steps per run.
      steps_per_s: run-steps per second, ``runs * steps / seconds`` (median seconds).
      compile_s: first call minus steady call (driftsim only), else None.
      regret: mean final cumulative regret over the runs measured.
      seconds: median wall seconds of one timed call.
      cpu_seconds: median process CPU seconds of one timed call.
      ratio: ``steps_per_s`` over the numpy loop's, in the same suite run (None for the loop).
      compile_cpu_s: process CPU seconds of the compilation (robust to a busy machine).
      note: anything a reader needs (a variant, a caveat, why it is missing).
    """

    workload: str
    implementation: str
    runs: int = 0
    steps: int = 0
    steps_per_s: float | None = None
    compile_s: float | None = None
    regret: float | None = None
    seconds: float | None = None
    cpu_seconds: float | None = None
    ratio: float | None = None
    compile_cpu_s: float | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def unavailable(workload: str, implementation: str, reason: str) -> Record:
    """A record saying why nothing was measured."""
    return Record(workload=workload, implementation=implementation, note=f"not available: {reason}")


@dataclasses.dataclass
class Timing:
    """Median wall and CPU seconds of repeated calls, and the last call's result."""

    seconds: float
    cpu_seconds: float
    first_seconds: float
    first_cpu_seconds: float
    result: Any


def time_calls(
    fn: Callable[[int], Any], repeats: int, warmup: bool = False, budget_s: float | None = None
) -> Timing:
    """Call ``fn(i)`` ``repeats`` times (plus one untimed-as-steady first call if ``warmup``).

    ``fn`` receives the repeat index (a seed offset for baselines that draw a fresh problem).
    With ``budget_s``, stop early once two calls are done and the calls took that long.
    """
    first = first_cpu = math.nan
    result = None
    if warmup:
        start_cpu, start = time.process_time(), time.perf_counter()
        result = fn(0)
        first = time.perf_counter() - start
        first_cpu = time.process_time() - start_cpu
    walls, cpus, results = [], [], []
    for i in range(repeats):
        start_cpu, start = time.process_time(), time.perf_counter()
        result = fn(i)
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - start_cpu)
        results.append(result)
        if budget_s is not None and len(walls) >= 2 and sum(walls) >= budget_s:
            break
    return Timing(statistics.median(walls), statistics.median(cpus), first, first_cpu, results)


def seed_keys(seed: int, num_runs: int, impl: str | None = None) -> jax.Array:
    """Keys ``fold_in(key(seed), i)``, with the PRNG implementation ``impl`` (default: JAX's)."""
    root = jax.random.key(seed) if impl is None else jax.random.key(seed, impl=impl)
    return jax.vmap(lambda i: jax.random.fold_in(root, i))(jnp.arange(num_runs, dtype=jnp.uint32))


def compiled_runs(env, agent, num_steps: int, record_every: int = 1, batch_size: int | None = None):
    """``jit(vmap(make_run))`` over run keys; with ``batch_size``, runs go through
    ``lax.map`` in batches of that many (the vmap is cut where the state outgrows the cache)."""
    run = make_run(env, agent, num_steps, record_every)
    batched = jax.vmap(run, in_axes=(0, None, None))
    if batch_size is None:
        return jax.jit(batched)

    def chunked(keys, env_params, hparams):
        num_runs = keys.shape[0]
        if num_runs <= batch_size:
            return batched(keys, env_params, hparams)
        if num_runs % batch_size:
            raise ValueError(f"runs = {num_runs} is not a multiple of batch_size = {batch_size}")
        groups = keys.reshape((num_runs // batch_size, batch_size) + keys.shape[1:])
        logs = jax.lax.map(lambda k: batched(k, env_params, hparams), groups)
        return jax.tree.map(lambda x: x.reshape((num_runs,) + x.shape[2:]), logs)

    return jax.jit(chunked)


@dataclasses.dataclass
class DriftsimTiming:
    """A driftsim measurement: steady seconds, compile seconds and the final regrets."""

    seconds: float
    cpu_seconds: float
    compile_s: float
    compile_cpu_s: float
    final_regret: np.ndarray
    log: Any
    memory_bytes: float = math.nan


def time_driftsim(
    env,
    agent,
    num_steps: int,
    num_runs: int,
    repeats: int,
    *,
    env_params=None,
    hparams=None,
    seed: int = 0,
    impl: str | None = None,
    record_every: int = 1,
    batch_size: int | None = None,
    keep_log: bool = False,
) -> DriftsimTiming:
    """Time ``jit(vmap(make_run(env, agent, num_steps)))`` over ``num_runs`` run keys.

    The first call (trace + compile + one run) minus the median of ``repeats`` further
    calls is the compile time.  The regret is the final cumulative ``log.regret`` per run;
    ``memory_bytes`` is XLA's own account of the program (arguments + outputs + temporaries).
    """
    env_params = env.default_params() if env_params is None else env_params
    hparams = agent.default_hparams() if hparams is None else hparams
    program = compiled_runs(env, agent, num_steps, record_every, batch_size)
    keys = seed_keys(seed, num_runs, impl)

    def call(_):
        return jax.block_until_ready(program(keys, env_params, hparams))

    timing = time_calls(call, repeats, warmup=True)
    log = timing.result[-1]
    regret = np.asarray(log.regret, np.float64).sum(axis=-1) * record_every
    try:  # the executable is cached by now: lowering again costs nothing
        stats = program.lower(keys, env_params, hparams).compile().memory_analysis()
        memory = float(
            stats.argument_size_in_bytes
            + stats.output_size_in_bytes
            + stats.temp_size_in_bytes
            - stats.alias_size_in_bytes
        )
    except Exception:  # noqa: BLE001 - memory statistics are optional
        memory = math.nan
    return DriftsimTiming(
        seconds=timing.seconds,
        cpu_seconds=timing.cpu_seconds,
        compile_s=max(timing.first_seconds - timing.seconds, 0.0),
        compile_cpu_s=max(timing.first_cpu_seconds - timing.cpu_seconds, 0.0),
        final_regret=regret,
        log=log if keep_log else None,
        memory_bytes=memory,
    )


def driftsim_record(
    workload: str, label: str, timing: DriftsimTiming, num_runs: int, num_steps: int, note: str = ""
) -> Record:
    return Record(
        workload=workload,
        implementation=label,
        runs=num_runs,
        steps=num_steps,
        steps_per_s=num_runs * num_steps / timing.seconds,
        compile_s=timing.compile_s,
        compile_cpu_s=timing.compile_cpu_s,
        regret=float(np.mean(timing.final_regret)),
        seconds=timing.seconds,
        cpu_seconds=timing.cpu_seconds,
        note=note,
    )


def baseline_record(
    workload: str,
    label: str,
    fn: Callable[[int], np.ndarray],
    num_runs: int,
    num_steps: int,
    repeats: int,
    note: str = "",
    budget_s: float | None = None,
) -> Record:
    """Time ``fn(seed) -> final regrets (num_runs,)``; the regret is the mean over every
    repeat's runs (each repeat draws fresh problems from its seed).  ``budget_s``: see
    :func:`time_calls`."""
    timing = time_calls(fn, repeats, budget_s=budget_s)
    regrets = np.concatenate([np.atleast_1d(r) for r in timing.result])
    return Record(
        workload=workload,
        implementation=label,
        runs=num_runs,
        steps=num_steps,
        steps_per_s=num_runs * num_steps / timing.seconds,
        regret=float(np.mean(regrets)),
        seconds=timing.seconds,
        cpu_seconds=timing.cpu_seconds,
        note=note,
    )


def peak_memory_mib() -> float:
    """The process's peak resident memory so far, MiB.

    On Linux the high-water mark of this program's own address space (``VmHWM`` of
    ``/proc/self/status``): ``getrusage``'s ``ru_maxrss`` survives ``exec``, so a child
    that a large process starts (the equal-work points) would report its parent's size.
    Elsewhere ``ru_maxrss``.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1.0 / (1024 * 1024) if platform.system() == "Darwin" else 1.0 / 1024
    return peak * scale


def machine_info() -> dict[str, Any]:
    """Platform, CPU count and model, JAX backend and devices."""
    cpu_model = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": cpu_model,
        "cpu_count": os.cpu_count(),
        "load_average": load,
        "jax_backend": jax.default_backend(),
        "jax_devices": [str(d) for d in jax.devices()],
        "prng_impl": str(jax.config.jax_default_prng_impl),
    }


def _best_seconds(fn: Callable[[], Any], repeats: int = 5) -> float:
    fn()
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def machine_limits() -> dict[str, float]:
    """Rough ceilings of this machine, measured now (best of 5; the machine may be shared).

    * ``memory_gb_s``: a 256 MiB numpy copy (bytes read + written per second);
    * ``cache_gb_s``: a 256 KiB numpy copy repeated (L2-resident);
    * ``gflop_s``: float32 1024 x 1024 matmul under XLA (every core).
    """
    big = np.ones(256 * (1 << 20) // 8)
    big_out = np.empty_like(big)
    memory = 2 * big.nbytes / _best_seconds(lambda: np.copyto(big_out, big)) / 1e9
    small = np.ones(256 * 1024 // 8)
    small_out = np.empty_like(small)

    def copies():
        for _ in range(200):
            np.copyto(small_out, small)

    cache = 200 * 2 * small.nbytes / _best_seconds(copies) / 1e9
    n = 1024
    a = jnp.ones((n, n), jnp.float32)
    matmul = jax.jit(lambda x: x @ x)
    flops = 2 * n**3 / _best_seconds(lambda: jax.block_until_ready(matmul(a))) / 1e9
    return {"memory_gb_s": memory, "cache_gb_s": cache, "gflop_s": flops}


def unrolled_threefry(unrolled: bool = True):
    """Compile inside the block with the unrolled (or JAX's rolled) CPU lowering of the
    Threefry hash (:mod:`experiments.threefry`); same bits either way."""
    from experiments import threefry

    if not threefry.available():
        raise Unavailable("cannot choose the threefry lowering in this JAX")
    return threefry.lowering(unrolled)
