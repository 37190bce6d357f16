"""Plain numpy versions of the benchmarked algorithms: the baselines of every speed ratio.

Two baselines per algorithm, both generating their own data as driftsim does (arm means
or parameters drawn per run, one fresh draw per step):

* a **per-step loop**, one run after another: the code a researcher writes first, and the
  denominator of every ``x numpy loop`` ratio;
* a version **vectorised over runs** (every run advances one step per numpy call): the
  stronger baseline.

The algorithms are small classes (``indices`` / ``act`` / ``update``) so that the tests can
replay driftsim's trajectory through them and check that driftsim's action is always a
maximiser of the numpy index (the same algorithm, not just a similar regret).  Everything
is float64.  Each ``*_loop`` / ``*_vectorized`` function returns the final cumulative
(pseudo-)regret of every run, ``(num_runs,)``.

Models (one run; ``t`` counts the rounds played so far):

* UCB1 (Auer, Cesa-Bianchi & Fischer 2002): ``argmax_a mu_hat_a + sqrt(c log t / n_a)``,
  ``+inf`` for arms never played, ``c = 2``.
* Beta–Bernoulli Thompson sampling (Thompson 1933; Chapelle & Li 2011): ``theta_a ~
  Beta(1 + s_a, 1 + f_a)``, play ``argmax theta``.
* Disjoint LinUCB (Li et al. 2010) with Sherman–Morrison:
  ``argmax_a x.theta_a + alpha sqrt(x^T A_a^{-1} x)``; ``A_a^{-1} <- A_a^{-1} - u u^T /
  (1 + x.u)``, ``u = A_a^{-1} x``.
* Online linear regression ``s = w.x + b`` on ``l = (s - y)^2 / 2`` with SGD or Adam
  (Kingma & Ba 2015, optax's defaults ``b1 = 0.9, b2 = 0.999, eps = 1e-8``); regret is the
  dynamic regret ``sum (s_t - f*_t)^2 / 2`` of :mod:`simulator.streams`.
"""

from __future__ import annotations

import math

import numpy as np

# --------------------------------------------------------------------------------------
# W1: Bernoulli multi-armed bandit
# --------------------------------------------------------------------------------------


class UCB1:
    """UCB1 for one run: ``mu_hat_a + sqrt(c log t / n_a)``, ``+inf`` for unplayed arms."""

    def __init__(self, num_arms: int, exploration: float = 2.0):
        self.counts = np.zeros(num_arms)
        self.sums = np.zeros(num_arms)
        self.total = 0
        self.exploration = exploration

    def indices(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            bonus = np.sqrt(self.exploration * math.log(max(self.total, 1)) / self.counts)
            index = self.sums / self.counts + bonus
        return np.where(self.counts > 0, index, np.inf)

    def act(self) -> int:
        if self.total < len(self.counts):  # play every arm once first
            return self.total
        return int(
            np.argmax(
                self.sums / self.counts
                + np.sqrt(self.exploration * math.log(self.total) / self.counts)
            )
        )

    def update(self, action: int, reward: float) -> None:
        self.counts[action] += 1.0
        self.sums[action] += reward
        self.total += 1


class BetaThompson:
    """Beta–Bernoulli Thompson sampling for one run, uniform ``Beta(1, 1)`` priors."""

    def __init__(self, num_arms: int, prior_a: float = 1.0, prior_b: float = 1.0):
        self.a = np.full(num_arms, prior_a)
        self.b = np.full(num_arms, prior_b)

    def act(self, rng: np.random.Generator) -> int:
        return int(np.argmax(rng.beta(self.a, self.b)))

    def update(self, action: int, reward: float) -> None:
        self.a[action] += reward
        self.b[action] += 1.0 - reward


def ucb1_loop(seed: int, num_runs: int, num_arms: int, num_steps: int) -> np.ndarray:
    """UCB1 on ``num_runs`` Bernoulli bandits (means ``~ U(0, 1)``), one run after another."""
    rng = np.random.default_rng(seed)
    regrets = np.empty(num_runs)
    for run in range(num_runs):
        means = rng.random(num_arms)
        best = means.max()
        policy = UCB1(num_arms)
        regret = 0.0
        for _ in range(num_steps):
            action = policy.act()
            reward = 1.0 if rng.random() < means[action] else 0.0
            policy.update(action, reward)
            regret += best - means[action]
        regrets[run] = regret
    return regrets


def thompson_loop(seed: int, num_runs: int, num_arms: int, num_steps: int) -> np.ndarray:
    """Beta–Bernoulli Thompson sampling, one run after another."""
    rng = np.random.default_rng(seed)
    regrets = np.empty(num_runs)
    for run in range(num_runs):
        means = rng.random(num_arms)
        best = means.max()
        policy = BetaThompson(num_arms)
        regret = 0.0
        for _ in range(num_steps):
            action = policy.act(rng)
            reward = 1.0 if rng.random() < means[action] else 0.0
            policy.update(action, reward)
            regret += best - means[action]
        regrets[run] = regret
    return regrets


def ucb1_vectorized(seed: int, num_runs: int, num_arms: int, num_steps: int) -> np.ndarray:
    """UCB1 with every run advanced by one step per numpy call (arrays ``(runs, K)``)."""
    rng = np.random.default_rng(seed)
    means = rng.random((num_runs, num_arms))
    best = means.max(axis=1)
    rows = np.arange(num_runs)
    counts = np.zeros((num_runs, num_arms))
    sums = np.zeros((num_runs, num_arms))
    regret = np.zeros(num_runs)
    for t in range(num_steps):
        if t < num_arms:
            actions = np.full(num_runs, t)
        else:
            index = sums / counts + np.sqrt(2.0 * math.log(t) / counts)
            actions = index.argmax(axis=1)
        chosen = means[rows, actions]
        rewards = rng.random(num_runs) < chosen
        counts[rows, actions] += 1.0
        sums[rows, actions] += rewards
        regret += best - chosen
    return regret


def thompson_vectorized(seed: int, num_runs: int, num_arms: int, num_steps: int) -> np.ndarray:
    """Beta–Bernoulli Thompson sampling vectorised over runs."""
    rng = np.random.default_rng(seed)
    means = rng.random((num_runs, num_arms))
    best = means.max(axis=1)
    rows = np.arange(num_runs)
    a = np.ones((num_runs, num_arms))
    b = np.ones((num_runs, num_arms))
    regret = np.zeros(num_runs)
    for _ in range(num_steps):
        actions = rng.beta(a, b).argmax(axis=1)
        chosen = means[rows, actions]
        rewards = rng.random(num_runs) < chosen
        a[rows, actions] += rewards
        b[rows, actions] += ~rewards
        regret += best - chosen
    return regret


# --------------------------------------------------------------------------------------
# W2: disjoint linear contextual bandit
# --------------------------------------------------------------------------------------


class DisjointLinUCB:
    """Disjoint LinUCB for one run, ``A_a^{-1}`` kept by Sherman–Morrison (never inverted)."""

    def __init__(self, num_arms: int, dim: int, alpha: float = 1.0, ridge: float = 1.0):
        self.a_inv = np.broadcast_to(np.eye(dim) / ridge, (num_arms, dim, dim)).copy()
        self.b = np.zeros((num_arms, dim))
        self.theta = np.zeros((num_arms, dim))
        self.alpha = alpha

    def indices(self, x: np.ndarray) -> np.ndarray:
        quad = (self.a_inv @ x) @ x
        return self.theta @ x + self.alpha * np.sqrt(np.maximum(quad, 0.0))

    def act(self, x: np.ndarray) -> int:
        return int(np.argmax(self.indices(x)))

    def update(self, action: int, x: np.ndarray, reward: float) -> None:
        a_inv = self.a_inv[action]
        u = a_inv @ x
        a_inv -= np.outer(u, u) / (1.0 + x @ u)
        self.b[action] += reward * x
        self.theta[action] = a_inv @ self.b[action]


def linucb_loop(
    seed: int, num_runs: int, num_arms: int, dim: int, num_steps: int, noise: float = 0.1
) -> np.ndarray:
    """Disjoint LinUCB (alpha = 1, lambda = 1) on W2's problem, one run after another."""
    rng = np.random.default_rng(seed)
    regrets = np.empty(num_runs)
    for run in range(num_runs):
        thetas = rng.normal(0.0, 1.0 / math.sqrt(dim), (num_arms, dim))
        policy = DisjointLinUCB(num_arms, dim)
        regret = 0.0
        for _ in range(num_steps):
            x = rng.standard_normal(dim)
            action = policy.act(x)
            expected = thetas @ x
            reward = expected[action] + noise * rng.standard_normal()
            policy.update(action, x, reward)
            regret += expected.max() - expected[action]
        regrets[run] = regret
    return regrets


def linucb_vectorized(
    seed: int, num_runs: int, num_arms: int, dim: int, num_steps: int, noise: float = 0.1
) -> np.ndarray:
    """Disjoint LinUCB vectorised over runs (``A^{-1}`` is ``(runs, K, d, d)``)."""
    rng = np.random.default_rng(seed)
    thetas = rng.normal(0.0, 1.0 / math.sqrt(dim), (num_runs, num_arms, dim))
    a_inv = np.broadcast_to(np.eye(dim), (num_runs, num_arms, dim, dim)).copy()
    b = np.zeros((num_runs, num_arms, dim))
    theta_hat = np.zeros((num_runs, num_arms, dim))
    rows = np.arange(num_runs)
    regret = np.zeros(num_runs)
    for _ in range(num_steps):
        x = rng.standard_normal((num_runs, dim))
        ax = np.einsum("rkde,re->rkd", a_inv, x)
        quad = np.einsum("rkd,rd->rk", ax, x)
        index = np.einsum("rkd,rd->rk", theta_hat, x) + np.sqrt(np.maximum(quad, 0.0))
        actions = index.argmax(axis=1)
        expected = np.einsum("rkd,rd->rk", thetas, x)
        chosen = expected[rows, actions]
        rewards = chosen + noise * rng.standard_normal(num_runs)
        u = ax[rows, actions]  # A_a^{-1} x of the chosen arm
        a_inv[rows, actions] -= (
            u[:, :, None] * u[:, None, :] / (1.0 + quad[rows, actions])[:, None, None]
        )
        b[rows, actions] += rewards[:, None] * x
        theta_hat[rows, actions] = np.einsum("rde,re->rd", a_inv[rows, actions], b[rows, actions])
        regret += expected.max(axis=1) - chosen
    return regret


# --------------------------------------------------------------------------------------
# W3: online linear regression
# --------------------------------------------------------------------------------------


class LinearSGD:
    """``s = w.x + b`` trained by SGD on ``(s - y)^2 / 2``, from ``(0, 0)``."""

    def __init__(self, dim: int, learning_rate: float = 0.01):
        self.w = np.zeros(dim)
        self.b = 0.0
        self.learning_rate = learning_rate

    def predict(self, x: np.ndarray) -> float:
        return float(self.w @ x) + self.b

    def update(self, x: np.ndarray, prediction: float, label: float) -> None:
        step = self.learning_rate * (prediction - label)
        self.w -= step * x
        self.b -= step


class LinearAdam:
    """``s = w.x + b`` trained by Adam on ``(s - y)^2 / 2`` (optax's update, bias-corrected)."""

    def __init__(
        self,
        dim: int,
        learning_rate: float = 0.01,
        b1: float = 0.9,
        b2: float = 0.999,
        eps: float = 1e-8,
    ):
        self.theta = np.zeros(dim + 1)  # (w, b)
        self.m = np.zeros(dim + 1)
        self.v = np.zeros(dim + 1)
        self.count = 0
        self.learning_rate, self.b1, self.b2, self.eps = learning_rate, b1, b2, eps

    def predict(self, x: np.ndarray) -> float:
        return float(self.theta[:-1] @ x) + self.theta[-1]

    def update(self, x: np.ndarray, prediction: float, label: float) -> None:
        grad = np.append(x, 1.0) * (prediction - label)
        self.count += 1
        self.m = self.b1 * self.m + (1.0 - self.b1) * grad
        self.v = self.b2 * self.v + (1.0 - self.b2) * grad * grad
        m_hat = self.m / (1.0 - self.b1**self.count)
        v_hat = self.v / (1.0 - self.b2**self.count)
        self.theta -= self.learning_rate * m_hat / (np.sqrt(v_hat) + self.eps)


OPTIMIZERS = {"sgd": LinearSGD, "adam": LinearAdam}


def regression_loop(
    seed: int,
    num_runs: int,
    dim: int,
    num_steps: int,
    optimizer: str = "sgd",
    learning_rate: float = 0.01,
    noise: float = 0.1,
) -> np.ndarray:
    """Online linear regression ``y = w.x + b + noise z`` (``w ~ N(0, I/d)``, ``b ~ N(0, 1)``),
    one run after another; returns the dynamic regret ``sum (s - f*)^2 / 2`` per run."""
    rng = np.random.default_rng(seed)
    regrets = np.empty(num_runs)
    for run in range(num_runs):
        w = rng.normal(0.0, 1.0 / math.sqrt(dim), dim)
        bias = rng.standard_normal()
        model = OPTIMIZERS[optimizer](dim, learning_rate)
        regret = 0.0
        for _ in range(num_steps):
            x = rng.standard_normal(dim)
            truth = float(w @ x) + bias
            prediction = model.predict(x)
            label = truth + noise * rng.standard_normal()
            model.update(x, prediction, label)
            regret += 0.5 * (prediction - truth) ** 2
        regrets[run] = regret
    return regrets


def regression_vectorized(
    seed: int,
    num_runs: int,
    dim: int,
    num_steps: int,
    optimizer: str = "sgd",
    learning_rate: float = 0.01,
    noise: float = 0.1,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
) -> np.ndarray:
    """Online linear regression vectorised over runs (parameters ``(runs, d + 1)``)."""
    rng = np.random.default_rng(seed)
    w = rng.normal(0.0, 1.0 / math.sqrt(dim), (num_runs, dim))
    bias = rng.standard_normal(num_runs)
    theta = np.zeros((num_runs, dim + 1))
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    inputs = np.ones((num_runs, dim + 1))
    regret = np.zeros(num_runs)
    for t in range(1, num_steps + 1):
        inputs[:, :dim] = rng.standard_normal((num_runs, dim))
        x = inputs[:, :dim]
        truth = np.einsum("rd,rd->r", w, x) + bias
        prediction = np.einsum("rd,rd->r", theta, inputs)
        label = truth + noise * rng.standard_normal(num_runs)
        grad = inputs * (prediction - label)[:, None]
        if optimizer == "sgd":
            theta -= learning_rate * grad
        else:
            m = b1 * m + (1.0 - b1) * grad
            v = b2 * v + (1.0 - b2) * grad * grad
            m_hat = m / (1.0 - b1**t)
            v_hat = v / (1.0 - b2**t)
            theta -= learning_rate * m_hat / (np.sqrt(v_hat) + eps)
        regret += 0.5 * (prediction - truth) ** 2
    return regret


# --------------------------------------------------------------------------------------
# W6: CascadeUCB1 on Kveton et al.'s cascade problem
# --------------------------------------------------------------------------------------


def cascade_ucb1_loop(
    seed: int,
    num_runs: int,
    num_items: int,
    slate_size: int,
    num_steps: int,
    attraction: float = 0.2,
    gap: float = 0.15,
) -> np.ndarray:
    """CascadeUCB1 (Kveton et al. 2015) on the cascade problem, one run after another: per
    step the ``L`` indices, a top-``k`` by ``argpartition``, the user's cascade over the
    slate and the observed items' updates.  Returns each run's cumulative regret."""
    rng = np.random.default_rng(seed)
    w = np.where(np.arange(num_items) < slate_size, attraction, attraction - gap)
    best = 1.0 - np.prod(1.0 - np.sort(w)[-slate_size:])
    regrets = np.empty(num_runs)
    for run in range(num_runs):
        clicks = np.zeros(num_items)
        pulls = np.zeros(num_items)
        regret = 0.0
        for t in range(1, num_steps + 1):
            log_term = np.log(t - 1) if t > 2 else 0.0
            with np.errstate(divide="ignore", invalid="ignore"):
                index = np.where(
                    pulls > 0, clicks / pulls + np.sqrt(1.5 * log_term / pulls), np.inf
                )
            top = np.argpartition(-index, slate_size - 1)[:slate_size]
            slate = top[np.argsort(-index[top], kind="stable")]
            attracted = rng.random(slate_size) < w[slate]
            first = int(np.argmax(attracted)) if attracted.any() else slate_size
            seen = slate[: min(first + 1, slate_size)]
            pulls[seen] += 1.0
            if first < slate_size:
                clicks[slate[first]] += 1.0
            regret += best - (1.0 - np.prod(1.0 - w[slate]))
        regrets[run] = regret
    return regrets
