"""The fixed benchmark workloads W1–W6 and the compile-time survey.

Each workload function takes a :class:`Sizes` (the published sizes by default; the tests
pass tiny ones) and the number of repeats, and returns :class:`~experiments.bench.core.Record`
objects: driftsim, the numpy loop, the numpy version vectorised over runs, and the peers
that are importable.  A missing agent or environment gives a ``not available`` record.

* **W1 bernoulli-mab**: K = 10 Bernoulli arms, means ``~ U(0, 1)`` per run, T = 10,000,
  100 runs; UCB1 (``ucb``) and Beta–Bernoulli Thompson sampling (``thompson``).
* **W2 linear-contextual**: d = 16, K = 32 arms each with its own ``theta ~ N(0, I/d)``,
  ``x ~ N(0, I)``, ``r = x.theta_a + N(0, 0.1^2)`` (:class:`~experiments.bench.envs.
  DisjointLinearBandit`), T = 5,000, 10 and 100 runs; disjoint LinUCB (alpha = 1, lambda = 1).
* **W3 online-linreg**: ``x ~ N(0, I_16)``, ``y = x.w + b + N(0, 0.1^2)``
  (``regression_stream``), T = 100,000, 10 runs; per-sample SGD (lr 0.01) and Adam (lr 0.01);
  plus JAX's PRNG implementations and the share of time spent drawing random numbers.
* **W4 drifting-users**: every agent of the ``drifting-users`` preset at its default size
  (horizon capped), driftsim only.
* **W5 neural**: one neural agent on its example environment at a documented size.
* **W6 cascade slates**: Kveton et al.'s cascade problem, L = 256 items, slates of k = 4,
  T = 2,000, 100 runs; CascadeUCB1 against a per-step numpy loop (``argpartition`` top-k).
* **compile**: trace + compile seconds of every agent of every preset.
* **runner**: ``make_run`` of UCB1 (W1) and of OGD-SGD (W3) against hand-written scans of
  the same algorithms, interleaved in one process (:mod:`experiments.bench.runner_cost`).
* **gpu** (opt-in, ``--only gpu``): W1, W2 and ``drifting_users`` at 10^3 ... 10^6 runs
  (capped on a CPU unless ``full``; :mod:`experiments.bench.runner_cost`).
* **equal_work** (opt-in, ``--only equal_work``): ``experiments.run`` at 256 ... 65,536
  runs, equal total work, a fresh process per point (:mod:`experiments.bench.equal_work`).
* **first_result**: a cold and a warm ``driftsim run testbed --seeds 10 --steps 100`` in
  fresh processes and a fresh cache, three pairs (:mod:`experiments.bench.first_result`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

import agents
import simulator
from experiments.bench import equal_work, first_result, peers, runner_cost, scaling
from experiments.bench import numpy_baselines as nb
from experiments.bench.core import (
    Record,
    Unavailable,
    driftsim_record,
    seed_keys,
    time_driftsim,
    unavailable,
    unrolled_threefry,
)
from experiments.bench.core import (
    baseline_record as _baseline_record,
)
from experiments.bench.envs import DisjointLinearBandit
from experiments.runner import make_run

PRNG_IMPLS = ("threefry2x32", "rbg", "unsafe_rbg")


@dataclasses.dataclass(frozen=True)
class Sizes:
    """Workload sizes; the defaults are the published ones.

    ``*_loop_runs`` are the runs the per-step numpy loop does per repeat (its speed does
    not depend on the number of runs; a few keep the suite short).  ``peer_budget_s`` caps
    one peer call; ``baseline_budget_s`` stops repeating a numpy baseline once its calls
    took that long (after two calls).  The default suite finishes in a few minutes;
    :meth:`full` (``driftsim bench --only full``) adds JAX's rolled-threefry what-ifs and
    compiles every agent of every preset instead of every agent type once; with ``gpu`` it
    measures the whole runs grid on a CPU too (``gpu_full``).
    """

    w1_arms: int = 10
    w1_steps: int = 10_000
    w1_runs: int = 100
    w1_loop_runs: int = 5
    w1_policies: tuple[str, ...] = ("ucb1", "thompson")
    w1_samplers: bool = True
    w2_arms: int = 32
    w2_dim: int = 16
    w2_steps: int = 5_000
    w2_runs: tuple[int, ...] = (10, 100)
    w2_loop_runs: int = 2
    w3_dim: int = 16
    w3_steps: int = 100_000
    w3_runs: int = 10
    w3_loop_runs: int = 1
    w3_learning_rate: float = 0.01
    w3_prng_impls: tuple[str, ...] = PRNG_IMPLS
    w3_prng_steps: int = 20_000
    w4_preset: str = "drifting-users"
    w4_max_steps: int = 2_000
    w5_steps: int = 2_000
    w5_runs: int = 10
    w6_items: int = 256
    w6_slate_size: int = 4
    w6_steps: int = 2_000
    w6_runs: int = 100
    w6_loop_runs: int = 1
    runner_ucb_steps: int = 10_000
    runner_ucb_runs: int = 100
    runner_sgd_steps: int = 100_000
    runner_sgd_runs: int = 10
    runner_repeats: int = 5
    gpu_runs: tuple[int, ...] = (1_000, 10_000, 100_000, 1_000_000)
    gpu_cpu_max_runs: int = 10_000
    gpu_w1_steps: int = 1_000
    gpu_w2_steps: int = 100
    gpu_users_steps: int = 100
    gpu_state_budget_mib: float = 2048.0
    gpu_full: bool = False
    equal_work_runs: tuple[int, ...] = (256, 4_096, 16_384, 65_536)
    equal_work_run_steps: int = 2**22
    equal_work_workloads: tuple[str, ...] = ("ucb1", "linucb", "ogd", "drifting_users")
    first_result_run: tuple[str, int, int] = ("testbed", 10, 100)
    first_result_pairs: int = 3
    peer_budget_s: float = peers.BUDGET_S
    baseline_budget_s: float = 6.0
    peers: bool = True
    rolled_threefry: bool = False
    compile_every_preset: bool = False
    one_core: bool = True

    @classmethod
    def full(cls) -> Sizes:
        """Every comparison: rolled-threefry what-ifs, every agent of every preset compiled."""
        return cls(rolled_threefry=True, compile_every_preset=True, gpu_full=True)


def baseline_record(workload, label, fn, num_runs, num_steps, repeats, note="", *, sizes=None):
    """:func:`~experiments.bench.core.baseline_record` within ``sizes.baseline_budget_s``."""
    budget = (sizes or Sizes()).baseline_budget_s
    return _baseline_record(workload, label, fn, num_runs, num_steps, repeats, note, budget)


def _make_agent(name: str, **static):
    if name not in agents.names():
        raise Unavailable(f"agent {name!r} is not registered yet")
    return agents.make(name, **static)


def _make_env(name: str, **static):
    if name not in simulator.names():
        raise Unavailable(f"environment {name!r} is not registered yet")
    return simulator.make(name, **static)


def _replace_known(params, **values):
    """``params.replace`` of the fields it has (so a renamed knob fails loudly elsewhere)."""
    known = {k: v for k, v in values.items() if hasattr(params, k)}
    missing = sorted(set(values) - set(known))
    if missing:
        raise Unavailable(f"{type(params).__name__} has no field(s) {', '.join(missing)}")
    return params.replace(**known)


UNROLLED = "driftsim [JAX rolled threefry]"


def _unrolled_record(sizes: Sizes, workload: str, env, agent, steps, runs, repeats, **kw):
    """driftsim again with JAX's default rolled CPU lowering of threefry (same random bits;
    driftsim unrolls it, see experiments.threefry), or None."""
    if not sizes.rolled_threefry:
        return None
    try:
        with unrolled_threefry(False):
            timing = time_driftsim(env, agent, steps, runs, repeats, **kw)
    except Unavailable as err:
        return unavailable(workload, UNROLLED, str(err))
    return driftsim_record(
        workload,
        UNROLLED,
        timing,
        runs,
        steps,
        note="JAX's default rolled threefry on CPU (same bits); driftsim unrolls it",
    )


def _regret_at(log, steps: int) -> float:
    """Mean cumulative regret of driftsim's runs after ``steps`` steps."""
    return float(np.asarray(log.regret[:, :steps], np.float64).sum(axis=1).mean())


def _peer_record(
    workload: str,
    name: str,
    run_once: Callable[[int], peers.PeerRun],
    num_steps: int,
    repeats: int,
    driftsim_log,
    note: str = "",
) -> Record:
    """Time a peer: one run per repeat (a fresh problem each; at most two), median
    seconds per step."""
    seconds, steps, regrets = [], [], []
    for i in range(max(1, min(repeats, 2))):
        start = time.perf_counter()
        result = run_once(1000 + i)
        seconds.append(time.perf_counter() - start)
        steps.append(result.steps)
        regrets.append(result.regret)
    per_step = float(np.median(np.asarray(seconds) / np.asarray(steps)))
    done = min(steps)
    if done < num_steps:
        extra = f"stopped at t={done} (time budget); regret at t={done}"
        if driftsim_log is not None:
            extra += f", driftsim's there {_regret_at(driftsim_log, done):.4g}"
        note = f"{note}; {extra}" if note else extra
    return Record(
        workload=workload,
        implementation=name,
        runs=1,
        steps=done,
        steps_per_s=1.0 / per_step,
        regret=float(np.mean(regrets)),
        seconds=per_step * done,
        note=note,
    )


# --------------------------------------------------------------------------------------
# W1
# --------------------------------------------------------------------------------------


def w1(sizes: Sizes, repeats: int) -> list[Record]:
    """W1 bernoulli-mab: UCB1 and Thompson sampling."""
    records: list[Record] = []
    env = simulator.make("bernoulli", num_arms=sizes.w1_arms)
    k, t, runs = sizes.w1_arms, sizes.w1_steps, sizes.w1_runs
    for agent_name, policy, loop, vectorized in (
        ("ucb", "ucb1", nb.ucb1_loop, nb.ucb1_vectorized),
        ("thompson", "thompson", nb.thompson_loop, nb.thompson_vectorized),
    ):
        if policy not in sizes.w1_policies:
            continue
        workload = f"W1 {policy}"
        log = None
        try:
            agent = _make_agent(agent_name, num_arms=k)
            hparams = agent.default_hparams()
            timing = time_driftsim(env, agent, t, runs, repeats, hparams=hparams, keep_log=True)
            log = timing.log
            records.append(driftsim_record(workload, "driftsim", timing, runs, t))
            extra = _unrolled_record(sizes, workload, env, agent, t, runs, repeats, hparams=hparams)
            if extra is not None:
                records.append(extra)
        except Unavailable as err:
            records.append(unavailable(workload, "driftsim", str(err)))
        loop_runs = min(sizes.w1_loop_runs, runs)
        records.append(
            baseline_record(
                workload,
                "numpy loop",
                lambda seed, f=loop, n=loop_runs: f(seed, n, k, t),
                loop_runs,
                t,
                repeats,
                sizes=sizes,
            )
        )
        records.append(
            baseline_record(
                workload,
                "numpy vectorized",
                lambda seed, f=vectorized: f(seed, runs, k, t),
                runs,
                t,
                repeats,
                sizes=sizes,
            )
        )
        if sizes.peers:
            records += _peer_records(
                workload,
                peers.BANDIT_PEERS,
                policy,
                lambda run, seed: run(seed, k, t, budget_s=sizes.peer_budget_s),
                t,
                repeats,
                log,
            )
    if sizes.w1_samplers:
        records.extend(beta_samplers(sizes, repeats))
    return records


def _peer_records(workload, table, algorithm, call, t, repeats, log, notes=None) -> list[Record]:
    """One record per peer library in ``table`` (name -> builder of ``algorithm``): timed
    with ``call(run, seed)``, or a 'not available' record when it is not installed."""
    records = []
    for name, build in table.items():
        try:
            run = build(algorithm)
        except Unavailable as err:
            records.append(unavailable(workload, name, str(err)))
            continue
        records.append(
            _peer_record(
                workload,
                name,
                lambda seed, run=run: call(run, seed),
                t,
                repeats,
                log,
                (notes or {}).get(name, ""),
            )
        )
    return records


def beta_samplers(sizes: Sizes, repeats: int) -> list[Record]:
    """Beta draws per second for Thompson sampling's posterior shapes, ``(runs, K)`` per
    step inside a scan: ``jax.random.beta`` against ``agents.sampling.beta`` and numpy."""
    runs, k, steps = sizes.w1_runs, sizes.w1_arms, max(sizes.w1_steps // 10, 10)
    workload = "W1 beta sampler"
    shapes = jnp.asarray(np.random.default_rng(0).uniform(1.0, 300.0, (2, runs, k)), jnp.float32)
    samplers: dict[str, Callable] = {"jax.random.beta": jax.random.beta}
    try:
        from agents.sampling import beta as fast_beta

        samplers["agents.sampling.beta"] = fast_beta
    except ImportError:
        pass
    records = []
    for label, sampler in samplers.items():

        def program(key, shapes, sampler=sampler):
            def body(total, t):
                keys = jax.random.split(jax.random.fold_in(key, t), runs)
                draws = jax.vmap(sampler)(keys, shapes[0], shapes[1])
                return total + jnp.sum(draws), None

            return jax.lax.scan(body, jnp.float32(0), jnp.arange(steps))[0]

        compiled = jax.jit(program)
        key = jax.random.key(0)
        jax.block_until_ready(compiled(key, shapes))
        seconds = []
        for _ in range(repeats):
            start = time.perf_counter()
            jax.block_until_ready(compiled(key, shapes))
            seconds.append(time.perf_counter() - start)
        median = float(np.median(seconds))
        records.append(
            Record(
                workload=workload,
                implementation=label,
                runs=runs,
                steps=steps,
                steps_per_s=runs * steps / median,
                seconds=median,
                note=f"{k} Beta draws per run-step, vmapped over runs inside a scan",
            )
        )
    a, b = np.asarray(shapes[0], np.float64), np.asarray(shapes[1], np.float64)
    loop_steps = max(steps // 10, 1)

    def loop(seed):
        rng = np.random.default_rng(seed)
        for _ in range(loop_steps):
            for r in range(runs):
                rng.beta(a[r], b[r])
        return np.zeros(1)

    def vectorized(seed):
        rng = np.random.default_rng(seed)
        for _ in range(steps):
            rng.beta(a, b)
        return np.zeros(1)

    records.append(
        baseline_record(
            workload,
            "numpy loop",
            loop,
            runs,
            loop_steps,
            repeats,
            note=f"rng.beta on ({k},) per run-step",
            sizes=sizes,
        )
    )
    records.append(
        baseline_record(
            workload,
            "numpy vectorized",
            vectorized,
            runs,
            steps,
            repeats,
            note=f"rng.beta on ({runs}, {k}) per step",
            sizes=sizes,
        )
    )
    for record in records:
        record.regret = None
    return records


# --------------------------------------------------------------------------------------
# W2
# --------------------------------------------------------------------------------------


def w2_env(sizes: Sizes) -> DisjointLinearBandit:
    return DisjointLinearBandit(num_arms=sizes.w2_arms, context_dim=sizes.w2_dim)


def w2_agent(sizes: Sizes, num_arms: int | None = None, dim: int | None = None):
    agent = _make_agent(
        "linucb",
        num_arms=num_arms or sizes.w2_arms,
        context_dim=dim or sizes.w2_dim,
        arm_dim=0,
        mode="disjoint",
    )
    return agent, _replace_known(agent.default_hparams(), alpha=1.0, ridge=1.0)


def linucb_costs(num_arms: int, dim: int) -> dict[str, float]:
    """Per run-step memory traffic and FLOPs of disjoint LinUCB (float32).

    Act reads the K inverse matrices (``K d^2``) and the K estimates, computing
    ``x^T A_k^{-1} x`` and ``x.theta_k`` (``2 K d^2 + 2 K d`` FLOPs); the Sherman–Morrison
    update of one arm reads and writes one matrix and computes ``u = A^{-1} x``, the
    rank-one correction and ``theta = A^{-1} b`` (about ``7 d^2`` FLOPs).
    """
    matrix = dim * dim * 4
    bytes_read = num_arms * matrix + num_arms * dim * 4
    bytes_update = 2 * matrix + 4 * dim * 4
    flops = 2 * num_arms * dim * dim + 2 * num_arms * dim + 7 * dim * dim
    return {
        "bytes_per_step": float(bytes_read + bytes_update),
        "flops_per_step": float(flops),
        "state_bytes_per_run": float(num_arms * (matrix + 2 * dim * 4 + 4)),
    }


def w2(sizes: Sizes, repeats: int) -> list[Record]:
    """W2 linear-contextual: disjoint LinUCB with 10 and 100 runs."""
    records: list[Record] = []
    k, d, t = sizes.w2_arms, sizes.w2_dim, sizes.w2_steps
    workload = "W2 linucb"
    env = w2_env(sizes)
    costs = linucb_costs(k, d)
    log = None
    try:
        agent, hparams = w2_agent(sizes)
        for runs in sizes.w2_runs:
            timing = time_driftsim(env, agent, t, runs, repeats, hparams=hparams, keep_log=True)
            log = timing.log
            record = driftsim_record(f"{workload} {runs} runs", "driftsim", timing, runs, t)
            record.note = (
                f"{costs['bytes_per_step'] / 1024:.1f} KiB and {costs['flops_per_step'] / 1e3:.1f} "
                "kFLOP per run-step: "
                f"{record.steps_per_s * costs['bytes_per_step'] / 1e9:.2f} GB/s, "
                f"{record.steps_per_s * costs['flops_per_step'] / 1e9:.2f} GFLOP/s"
            )
            records.append(record)
            if runs == max(sizes.w2_runs):
                extra = _unrolled_record(
                    sizes, record.workload, env, agent, t, runs, repeats, hparams=hparams
                )
                if extra is not None:
                    records.append(extra)
    except Unavailable as err:
        for runs in sizes.w2_runs:
            records.append(unavailable(f"{workload} {runs} runs", "driftsim", str(err)))
    loop_runs = min(sizes.w2_loop_runs, min(sizes.w2_runs))
    # The loop runs one run after another: its speed does not depend on the number of
    # runs, so it is timed once and its record repeated for each workload.
    loop = baseline_record(
        f"{workload} {sizes.w2_runs[0]} runs",
        "numpy loop",
        lambda seed: nb.linucb_loop(seed, loop_runs, k, d, t),
        loop_runs,
        t,
        repeats,
        note="Sherman-Morrison, one run after another",
        sizes=sizes,
    )
    for runs in sizes.w2_runs:
        records.append(
            dataclasses.replace(loop, workload=f"{workload} {runs} runs")
            if runs != sizes.w2_runs[0]
            else loop
        )
        if runs != sizes.w2_runs[0]:
            records[-1].note = f"the same loop as {workload} {sizes.w2_runs[0]} runs"
        records.append(
            baseline_record(
                f"{workload} {runs} runs",
                "numpy vectorized",
                lambda seed, runs=runs: nb.linucb_vectorized(seed, runs, k, d, t),
                runs,
                t,
                repeats,
                sizes=sizes,
            )
        )
    if sizes.peers:
        peer_workload = f"{workload} {max(sizes.w2_runs)} runs"
        for name, (build, note) in peers.LINEAR_PEERS.items():
            try:
                run = build()
            except Unavailable as err:
                records.append(unavailable(peer_workload, name, str(err)))
                continue
            records.append(
                _peer_record(
                    peer_workload,
                    name,
                    lambda seed, run=run: run(seed, k, d, t, budget_s=sizes.peer_budget_s),
                    t,
                    repeats,
                    log,
                    note,
                )
            )
    return records


# --------------------------------------------------------------------------------------
# W3
# --------------------------------------------------------------------------------------


def w3_env(sizes: Sizes):
    env = _make_env("regression_stream", context_dim=sizes.w3_dim)
    params = _replace_known(env.default_params(), noise=0.1, param_scale=1.0, bias_scale=1.0)
    return env, params


def w3_agent(sizes: Sizes, optimizer: str):
    agent = _make_agent("ogd", context_dim=sizes.w3_dim, optimizer=optimizer)
    return agent, _replace_known(agent.default_hparams(), learning_rate=sizes.w3_learning_rate)


def rng_only_program(dim: int, num_steps: int):
    """The random numbers one W3 run draws (the runner's step keys, the stream's label
    noise and next features), and nothing else: its time is the RNG's share."""

    def run(key):
        key_env, key_agent = jax.random.split(key)

        def body(total, t):
            key_label, _, key_features = jax.random.split(jax.random.fold_in(key_env, t), 3)
            key_act, key_update = jax.random.split(jax.random.fold_in(key_agent, t))
            z = jax.random.normal(key_label)
            x = jax.random.normal(key_features, (dim,))
            return total + z + jnp.sum(x), None

        return jax.lax.scan(body, jnp.float32(0), jnp.arange(num_steps, dtype=jnp.int32))[0]

    return jax.jit(jax.vmap(run))


def w3(sizes: Sizes, repeats: int) -> list[Record]:
    """W3 online-linreg: SGD and Adam; PRNG implementations; the RNG's share of the time."""
    records: list[Record] = []
    d, t, runs, lr = sizes.w3_dim, sizes.w3_steps, sizes.w3_runs, sizes.w3_learning_rate
    try:
        env, env_params = w3_env(sizes)
    except Unavailable as err:
        env, env_params, env_error = None, None, str(err)
    for optimizer in ("sgd", "adam"):
        workload = f"W3 {optimizer}"
        log = None
        try:
            if env is None:
                raise Unavailable(env_error)
            agent, hparams = w3_agent(sizes, optimizer)
            impls = sizes.w3_prng_impls if optimizer == "sgd" else sizes.w3_prng_impls[:1]
            for impl in impls:
                # The other PRNG implementations are compared on speed only, over a
                # shorter horizon (unsafe_rbg is several times slower).
                main = impl == sizes.w3_prng_impls[0]
                steps = t if main else min(t, sizes.w3_prng_steps)
                timing = time_driftsim(
                    env,
                    agent,
                    steps,
                    runs,
                    repeats,
                    env_params=env_params,
                    hparams=hparams,
                    impl=impl,
                    keep_log=main,
                )
                if main:
                    log = timing.log
                label = "driftsim" if main else f"driftsim [{impl}]"
                note = f"PRNG {impl}"
                if steps < t:
                    note += f"; speed only: regret after {steps:,} steps"
                records.append(driftsim_record(workload, label, timing, runs, steps, note=note))
            extra = _unrolled_record(
                sizes,
                workload,
                env,
                agent,
                t,
                runs,
                repeats,
                env_params=env_params,
                hparams=hparams,
            )
            if extra is not None:
                records.append(extra)
        except Unavailable as err:
            records.append(unavailable(workload, "driftsim", str(err)))
        loop_runs = min(sizes.w3_loop_runs, runs)
        records.append(
            baseline_record(
                workload,
                "numpy loop",
                lambda seed, o=optimizer, n=loop_runs: nb.regression_loop(seed, n, d, t, o, lr),
                loop_runs,
                t,
                repeats,
                sizes=sizes,
            )
        )
        records.append(
            baseline_record(
                workload,
                "numpy vectorized",
                lambda seed, o=optimizer: nb.regression_vectorized(seed, runs, d, t, o, lr),
                runs,
                t,
                repeats,
                sizes=sizes,
            )
        )
        if sizes.peers:
            records += _peer_records(
                workload,
                peers.REGRESSION_PEERS,
                optimizer,
                lambda run, seed: run(seed, d, t, lr, budget_s=sizes.peer_budget_s),
                t,
                repeats,
                log,
                notes={"River": "squared loss (y - p)^2 with half the step"},
            )
    rng_steps = min(t, sizes.w3_prng_steps)
    for impl in sizes.w3_prng_impls:
        program = rng_only_program(d, rng_steps)
        keys = seed_keys(0, runs, impl)
        jax.block_until_ready(program(keys))
        seconds = []
        for _ in range(repeats):
            start = time.perf_counter()
            jax.block_until_ready(program(keys))
            seconds.append(time.perf_counter() - start)
        median = float(np.median(seconds))
        records.append(
            Record(
                workload="W3 rng only",
                implementation=f"jax.random [{impl}]",
                runs=runs,
                steps=rng_steps,
                steps_per_s=runs * rng_steps / median,
                seconds=median,
                note="only the random numbers of a W3 step (step keys, label noise, 16 features)",
            )
        )
    return records


# --------------------------------------------------------------------------------------
# W4, W5, compile times
# --------------------------------------------------------------------------------------


def _preset_groups(name: str):
    from experiments import presets
    from experiments.plan import plan

    if name not in presets.names():
        raise Unavailable(f"preset {name!r} is not shipped yet")
    experiment = presets.load(name)
    kind = getattr(experiment, "kind", None)
    if kind not in (None, "simulate", "simulation") or getattr(experiment, "env", 0) is None:
        raise Unavailable(f"preset {name!r} is not a simulation (kind {kind!r})")
    return experiment, plan(experiment)


def w4(sizes: Sizes, repeats: int) -> list[Record]:
    """W4: every agent of the drifting-users preset, driftsim only (no numpy baseline)."""
    try:
        experiment, plans = _preset_groups(sizes.w4_preset)
    except Unavailable as err:
        return [unavailable("W4 drifting-users", "driftsim", str(err))]
    steps = min(experiment.num_steps, sizes.w4_max_steps)
    runs = experiment.num_seeds
    records = []
    for agent_plan in plans:
        group = agent_plan.groups[0]
        workload = f"W4 {agent_plan.label}"
        try:
            timing = time_driftsim(
                group.env,
                group.agent,
                steps,
                runs,
                repeats,
                env_params=group.env_params,
                hparams=group.hparams,
            )
        except Exception as err:  # noqa: BLE001 - report, do not abort the suite
            records.append(unavailable(workload, "driftsim", f"{type(err).__name__}: {err}"))
            continue
        note = f"preset {sizes.w4_preset}: {experiment.num_seeds} seeds"
        if steps < experiment.num_steps:
            note += f", horizon capped at {steps:,} of {experiment.num_steps:,}"
        records.append(driftsim_record(workload, "driftsim", timing, runs, steps, note=note))
    return records


W5_AGENTS = ("neural_greedy", "neural_ucb", "neural_ts", "neural_linear", "two_tower")


def w5(sizes: Sizes, repeats: int) -> list[Record]:
    """W5: one neural agent on its example environment (default static sizes)."""
    name = next((n for n in W5_AGENTS if n in agents.names()), None)
    if name is None:
        return [unavailable("W5 neural", "driftsim", "no neural agent is registered yet")]
    spec = agents.REGISTRY.meta(name).get("example_env", "bernoulli")
    env_name, env_static = (spec, {}) if isinstance(spec, str) else spec
    env = simulator.make(env_name, **env_static)
    shape = env.spec._asdict()
    allowed = agents.REGISTRY.static_fields(name)
    agent = agents.make(name, **{k: v for k, v in shape.items() if k in allowed})
    steps, runs = sizes.w5_steps, sizes.w5_runs
    timing = time_driftsim(env, agent, steps, runs, repeats)
    note = f"{name} with default sizes {agent.static} on {env_name} {env_static or ''}".strip()
    return [driftsim_record(f"W5 {name}", "driftsim", timing, runs, steps, note=note)]


def w6(sizes: Sizes, repeats: int) -> list[Record]:
    """W6 cascade slates: CascadeUCB1 on the cascade problem against the numpy loop."""
    workload = "W6 cascade_ucb1"
    items, k, t, runs = sizes.w6_items, sizes.w6_slate_size, sizes.w6_steps, sizes.w6_runs
    records = []
    try:
        env = _make_env("cascade", num_arms=items, slate_size=k)
        agent = _make_agent("cascade_ucb1", num_arms=items, slate_size=k)
        timing = time_driftsim(env, agent, t, runs, repeats)
        note = f"L = {items}, k = {k}: a top-k per step, O(L log k)"
        records.append(driftsim_record(workload, "driftsim", timing, runs, t, note=note))
    except Unavailable as err:
        records.append(unavailable(workload, "driftsim", str(err)))
    loop_runs = min(sizes.w6_loop_runs, runs)
    records.append(
        baseline_record(
            workload,
            "numpy loop",
            lambda seed: nb.cascade_ucb1_loop(seed, loop_runs, items, k, t),
            loop_runs,
            t,
            repeats,
            note="argpartition top-k, one run after another",
            sizes=sizes,
        )
    )
    return records


def compile_times(sizes: Sizes, repeats: int) -> list[Record]:
    """Trace + compile seconds of ``jit(vmap(make_run))`` for the agents of the presets.

    By default every agent type (registry name, wrappers included) is compiled once, on
    the first preset that uses it (W4 times every agent of ``drifting-users`` besides);
    with ``sizes.compile_every_preset`` every agent of every preset is (an agent with the
    same static structure on the same environment counts once).  Presets that are not
    simulations (off-policy evaluation, replay) are skipped.
    """
    from experiments import presets

    records = []
    seen: set[str] = set()
    for preset in presets.names():
        try:
            experiment, plans = _preset_groups(preset)
        except Exception as err:  # noqa: BLE001 - report, do not abort the suite
            records.append(unavailable(f"compile {preset}", "driftsim", _reason(err)))
            continue
        for agent_plan in plans:
            group = agent_plan.groups[0]
            if sizes.compile_every_preset:
                signature = repr((group.env, group.agent.name, sorted(group.agent.static.items())))
            else:
                signature = group.agent.name
            if signature in seen:
                continue
            seen.add(signature)
            program = jax.jit(
                jax.vmap(make_run(group.env, group.agent, 100), in_axes=(0, None, None))
            )
            keys = seed_keys(0, experiment.num_seeds)
            start_cpu, start = time.process_time(), time.perf_counter()
            try:
                program.lower(keys, group.env_params, group.hparams).compile()
            except Exception as err:  # noqa: BLE001 - report, do not abort the suite
                records.append(unavailable(f"compile {preset}", agent_plan.label, _reason(err)))
                continue
            records.append(
                Record(
                    workload=f"compile {preset}",
                    implementation=agent_plan.label,
                    runs=experiment.num_seeds,
                    compile_s=time.perf_counter() - start,
                    compile_cpu_s=time.process_time() - start_cpu,
                    note=f"agent {group.agent.name} on {type(group.env).__name__}",
                )
            )
    return records


# --------------------------------------------------------------------------------------
# the runner's per-step cost, and the runs grid for an accelerator
# --------------------------------------------------------------------------------------


def runner(sizes: Sizes, repeats: int) -> list[Record]:
    """``runner ucb1`` (W1) and ``runner ogd-sgd`` (W3): make_run against hand-written
    scans of the same algorithms, interleaved (:mod:`experiments.bench.runner_cost`)."""
    repeats = max(repeats, sizes.runner_repeats)
    records: list[Record] = []
    try:
        k, t, runs = sizes.w1_arms, sizes.runner_ucb_steps, sizes.runner_ucb_runs
        env = _make_env("bernoulli", num_arms=k)
        agent = _make_agent("ucb", num_arms=k)
        hparams = agent.default_hparams()
        hand = runner_cost.hand_ucb1(k, t, float(hparams.c))
        records += runner_cost.runner_pair(
            "runner ucb1", env, agent, env.default_params(), hparams, hand, runs, t, repeats
        )
    except Unavailable as err:
        records.append(unavailable("runner ucb1", "driftsim", str(err)))
    try:
        d, t, runs = sizes.w3_dim, sizes.runner_sgd_steps, sizes.runner_sgd_runs
        env, env_params = w3_env(sizes)
        agent, hparams = w3_agent(sizes, "sgd")
        hand = runner_cost.hand_sgd(
            d,
            t,
            float(hparams.learning_rate),
            float(env_params.noise),
            float(env_params.param_scale),
            float(env_params.bias_scale),
        )
        records += runner_cost.runner_pair(
            "runner ogd-sgd", env, agent, env_params, hparams, hand, runs, t, repeats
        )
    except Unavailable as err:
        records.append(unavailable("runner ogd-sgd", "driftsim", str(err)))
    return records


def gpu(sizes: Sizes, repeats: int) -> list[Record]:
    """W1 UCB1, W2 disjoint LinUCB and ``drifting_users`` with shared LinUCB at
    ``sizes.gpu_runs`` parallel runs (:func:`experiments.bench.runner_cost.gpu_grid`)."""
    problems = []
    env = _make_env("bernoulli", num_arms=sizes.w1_arms)
    agent = _make_agent("ucb", num_arms=sizes.w1_arms)
    problems.append(
        (
            "gpu W1 ucb1",
            env,
            agent,
            env.default_params(),
            agent.default_hparams(),
            sizes.gpu_w1_steps,
        )
    )
    agent, hparams = w2_agent(sizes)
    env = w2_env(sizes)
    problems.append(
        ("gpu W2 linucb", env, agent, env.default_params(), hparams, sizes.gpu_w2_steps)
    )
    try:
        env = _make_env("drifting_users")
        agent = scaling.shared_linucb(env)
        problems.append(
            (
                "gpu drifting_users linucb",
                env,
                agent,
                env.default_params(),
                agent.default_hparams(),
                sizes.gpu_users_steps,
            )
        )
    except Unavailable as err:
        return runner_cost.gpu_grid(problems, sizes, repeats) + [
            unavailable("gpu drifting_users linucb", "driftsim", str(err))
        ]
    return runner_cost.gpu_grid(problems, sizes, repeats)


def _reason(err: Exception) -> str:
    text = str(err).splitlines()[0] if str(err) else ""
    return f"{type(err).__name__}: {text[:160]}" if text else type(err).__name__


WORKLOADS: dict[str, Callable[[Sizes, int], list[Record]]] = {
    "W1": w1,
    "W2": w2,
    "W3": w3,
    "W4": w4,
    "W5": w5,
    "W6": w6,
    "compile": compile_times,
    "runner": runner,
    "gpu": gpu,
    "equal_work": equal_work.records,
    "first_result": first_result.records,
}
#: Workloads ``driftsim bench`` runs only when named in ``--only``.
OPT_IN = ("gpu", "equal_work")
