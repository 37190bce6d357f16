"""Peer libraries, used the way their documentation shows, on the same problems.

Each peer runs one run per call on a problem drawn like driftsim's (numpy draws inside
the loop), the library choosing the actions and learning from the rewards.  Peers are
optional (the ``bench`` extra): a missing library gives a ``not available`` record.
A slow peer stops at a time budget; its steps per second are then measured on the steps
it did, and its regret is reported at that horizon, beside driftsim's at the same step.

Peers and what they run:

* MABWiser (``LearningPolicy.UCB1(alpha=1)``, ``ThompsonSampling()``, ``LinUCB(alpha=1,
  l2_lambda=1)``): ``predict`` then ``partial_fit`` every step, after an initial ``fit``
  on one pull of each arm (UCB1's own start) or on the first step.
* SMPyBandits (``UCB``, ``Thompson``): ``choice`` then ``getReward``.
* River (``bandit.UCB(delta=1)``, ``bandit.ThompsonSampling(proba.Beta())``,
  ``bandit.LinUCBDisjoint`` (a Bayesian variant), ``linear_model.LinearRegression`` with
  ``optim.SGD`` / ``optim.Adam``): ``pull``/``update`` and ``predict_one``/``learn_one``.
* contextualbandits (``online.LinUCB(alpha=1, lambda_=1, fit_intercept=False, method="sm")``):
  ``predict`` then ``partial_fit``.
* Vowpal Wabbit (``--sgd``, squared loss, constant learning rate): ``predict`` then ``learn``
  on text examples.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import io
import math
import time
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from experiments.bench.core import Unavailable

#: Seconds one peer call may take before it stops early.
BUDGET_S = 2.5
_CHECK_EVERY = 50


class PeerRun(NamedTuple):
    """What one peer call did: steps completed and the regret over them."""

    steps: int
    regret: float


def _import(module: str):
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return importlib.import_module(module)
    except Exception as err:  # noqa: BLE001 - any import failure means "not available"
        raise Unavailable(
            f"{module.split('.')[0]} is not importable ({type(err).__name__})"
        ) from None


def version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


# --------------------------------------------------------------------------------------
# W1: Bernoulli bandit peers
# --------------------------------------------------------------------------------------


def _bernoulli_loop(seed, num_arms, num_steps, budget_s, choose, learn, start=None) -> PeerRun:
    """Shared loop: ``choose() -> arm``, ``learn(arm, reward)``; ``start(means, rng)``
    may play initial steps and returns ``(steps, regret)`` spent."""
    rng = np.random.default_rng(seed)
    means = rng.random(num_arms)
    best = means.max()
    steps, regret = start(means, rng) if start else (0, 0.0)
    deadline = time.perf_counter() + budget_s
    while steps < num_steps:
        action = choose()
        reward = 1.0 if rng.random() < means[action] else 0.0
        learn(action, reward)
        regret += best - means[action]
        steps += 1
        if steps % _CHECK_EVERY == 0 and time.perf_counter() > deadline:
            break
    return PeerRun(steps, regret)


def mabwiser_bandit(policy: str) -> Callable:
    mab_module = _import("mabwiser.mab")

    def run(seed, num_arms, num_steps, budget_s=BUDGET_S) -> PeerRun:
        arms = list(range(num_arms))
        if policy == "ucb1":
            learning = mab_module.LearningPolicy.UCB1(alpha=1.0)
        else:
            learning = mab_module.LearningPolicy.ThompsonSampling()
        mab = mab_module.MAB(arms, learning, seed=seed)

        def start(means, rng):  # one pull of each arm, as UCB1 starts
            rewards = (rng.random(num_arms) < means).astype(float)
            mab.fit(arms, rewards.tolist())
            return num_arms, float(np.sum(means.max() - means))

        return _bernoulli_loop(
            seed,
            num_arms,
            num_steps,
            budget_s,
            choose=mab.predict,
            learn=lambda a, r: mab.partial_fit([a], [r]),
            start=start,
        )

    return run


def smpybandits_bandit(policy: str) -> Callable:
    import scipy.special

    if not hasattr(scipy.special, "btdtri"):  # removed from scipy 1.15; SMPyBandits imports it
        scipy.special.btdtri = scipy.special.betaincinv
    policies = _import("SMPyBandits.Policies")

    def run(seed, num_arms, num_steps, budget_s=BUDGET_S) -> PeerRun:
        np.random.seed(seed)  # noqa: NPY002 - SMPyBandits draws from numpy's global generator
        agent = policies.UCB(num_arms) if policy == "ucb1" else policies.Thompson(num_arms)
        agent.startGame()
        return _bernoulli_loop(
            seed, num_arms, num_steps, budget_s, choose=agent.choice, learn=agent.getReward
        )

    return run


def river_bandit(policy: str) -> Callable:
    bandit = _import("river.bandit")
    proba = _import("river.proba")

    def run(seed, num_arms, num_steps, budget_s=BUDGET_S) -> PeerRun:
        if policy == "ucb1":
            agent = bandit.UCB(delta=1.0, seed=seed)
        else:
            agent = bandit.ThompsonSampling(reward_obj=proba.Beta(), seed=seed)
        arms = list(range(num_arms))
        return _bernoulli_loop(
            seed,
            num_arms,
            num_steps,
            budget_s,
            choose=lambda: agent.pull(arms),
            learn=agent.update,
        )

    return run


#: name -> builder(policy) for W1 (policy "ucb1" or "thompson").
BANDIT_PEERS: dict[str, Callable[[str], Callable]] = {
    "MABWiser": mabwiser_bandit,
    "SMPyBandits": smpybandits_bandit,
    "River": river_bandit,
}

# --------------------------------------------------------------------------------------
# W2: disjoint linear contextual bandit peers
# --------------------------------------------------------------------------------------


def _linear_loop(seed, num_arms, dim, num_steps, budget_s, choose, learn, noise=0.1) -> PeerRun:
    rng = np.random.default_rng(seed)
    thetas = rng.normal(0.0, 1.0 / math.sqrt(dim), (num_arms, dim))
    steps, regret = 0, 0.0
    deadline = time.perf_counter() + budget_s
    while steps < num_steps:
        x = rng.standard_normal(dim)
        action = int(choose(x, steps))
        expected = thetas @ x
        reward = expected[action] + noise * rng.standard_normal()
        learn(x, action, reward, steps)
        regret += expected.max() - expected[action]
        steps += 1
        if steps % _CHECK_EVERY == 0 and time.perf_counter() > deadline:
            break
    return PeerRun(steps, regret)


def mabwiser_linucb() -> Callable:
    mab_module = _import("mabwiser.mab")

    def run(seed, num_arms, dim, num_steps, budget_s=BUDGET_S) -> PeerRun:
        mab = mab_module.MAB(
            list(range(num_arms)),
            mab_module.LearningPolicy.LinUCB(alpha=1.0, l2_lambda=1.0),
            seed=seed,
        )

        def choose(x, step):
            return 0 if step == 0 else mab.predict(x[None, :])

        def learn(x, action, reward, step):
            if step == 0:
                mab.fit([action], [reward], x[None, :])
            else:
                mab.partial_fit([action], [reward], x[None, :])

        return _linear_loop(seed, num_arms, dim, num_steps, budget_s, choose, learn)

    return run


def contextualbandits_linucb() -> Callable:
    online = _import("contextualbandits.online")

    def run(seed, num_arms, dim, num_steps, budget_s=BUDGET_S) -> PeerRun:
        policy = online.LinUCB(
            nchoices=num_arms,
            alpha=1.0,
            lambda_=1.0,
            fit_intercept=False,
            method="sm",
            ucb_from_empty=True,
            random_state=seed + 1,  # must be > 0
        )

        def choose(x, step):
            return 0 if step == 0 else policy.predict(x[None, :])[0]

        def learn(x, action, reward, step):
            args = (x[None, :], np.array([action]), np.array([reward]))
            if step == 0:
                policy.fit(*args)
            else:
                policy.partial_fit(*args)

        return _linear_loop(seed, num_arms, dim, num_steps, budget_s, choose, learn)

    return run


def river_linucb() -> Callable:
    bandit = _import("river.bandit")

    def run(seed, num_arms, dim, num_steps, budget_s=BUDGET_S) -> PeerRun:
        policy = bandit.LinUCBDisjoint(alpha=1.0, beta=1.0, seed=seed)
        arms = list(range(num_arms))

        def features(x):
            return {i: float(v) for i, v in enumerate(x)}

        def choose(x, step):
            return policy.pull(arms, context=features(x))

        def learn(x, action, reward, step):
            policy.update(action, features(x), reward)

        return _linear_loop(seed, num_arms, dim, num_steps, budget_s, choose, learn)

    return run


#: name -> (builder, note) for W2.
LINEAR_PEERS: dict[str, tuple[Callable[[], Callable], str]] = {
    "MABWiser": (mabwiser_linucb, "LinUCB(alpha=1, l2_lambda=1)"),
    "contextualbandits": (contextualbandits_linucb, "LinUCB(alpha=1, lambda_=1, method='sm')"),
    "River": (river_linucb, "LinUCBDisjoint: Bayesian linear regression per arm, a variant"),
}

# --------------------------------------------------------------------------------------
# W3: online linear regression peers
# --------------------------------------------------------------------------------------


def _regression_loop(seed, dim, num_steps, budget_s, predict, learn, noise=0.1) -> PeerRun:
    rng = np.random.default_rng(seed)
    w = rng.normal(0.0, 1.0 / math.sqrt(dim), dim)
    bias = rng.standard_normal()
    steps, regret = 0, 0.0
    deadline = time.perf_counter() + budget_s
    while steps < num_steps:
        x = rng.standard_normal(dim)
        truth = float(w @ x) + bias
        prediction = predict(x)
        label = truth + noise * rng.standard_normal()
        learn(x, label)
        regret += 0.5 * (prediction - truth) ** 2
        steps += 1
        if steps % _CHECK_EVERY == 0 and time.perf_counter() > deadline:
            break
    return PeerRun(steps, regret)


def river_regression(optimizer: str) -> Callable:
    linear_model = _import("river.linear_model")
    optim = _import("river.optim")

    def run(seed, dim, num_steps, learning_rate=0.01, budget_s=BUDGET_S) -> PeerRun:
        # River's squared loss is (y - p)^2 (gradient 2(p - y)): half the step matches
        # SGD on (p - y)^2 / 2; Adam is invariant to that factor.
        if optimizer == "sgd":
            opt = optim.SGD(learning_rate / 2)
        else:
            opt = optim.Adam(lr=learning_rate)
        model = linear_model.LinearRegression(optimizer=opt, intercept_lr=learning_rate / 2)

        def features(x):
            return {i: float(v) for i, v in enumerate(x)}

        return _regression_loop(
            seed,
            dim,
            num_steps,
            budget_s,
            predict=lambda x: model.predict_one(features(x)),
            learn=lambda x, y: model.learn_one(features(x), y),
        )

    return run


def vowpal_regression(optimizer: str) -> Callable:
    if optimizer != "sgd":
        raise Unavailable("Vowpal Wabbit has no Adam")
    vw = _import("vowpalwabbit")

    def run(seed, dim, num_steps, learning_rate=0.01, budget_s=BUDGET_S) -> PeerRun:
        # --sgd: plain (non-adaptive, non-normalised, non-invariant) updates; the constant
        # feature is the bias.
        workspace = vw.Workspace(
            f"--quiet --sgd --learning_rate {learning_rate / 2} --power_t 0 "
            "--loss_function squared --initial_t 0",
            enable_logging=False,
        )

        def text(x, label=None):
            feats = " ".join(f"f{i}:{v:.7g}" for i, v in enumerate(x))
            return f"{'' if label is None else label} | {feats}"

        def predict(x):
            return workspace.predict(text(x))

        def learn(x, label):
            workspace.learn(text(x, label))

        result = _regression_loop(seed, dim, num_steps, budget_s, predict, learn)
        workspace.finish()
        return result

    return run


#: name -> builder(optimizer) for W3.
REGRESSION_PEERS: dict[str, Callable[[str], Callable]] = {
    "River": river_regression,
    "Vowpal Wabbit": vowpal_regression,
}

#: distribution names, for versions in the JSON.
DISTRIBUTIONS = ("mabwiser", "smpybandits", "river", "contextualbandits", "vowpalwabbit")


def versions() -> dict[str, str]:
    return {name: version(name) for name in DISTRIBUTIONS}
