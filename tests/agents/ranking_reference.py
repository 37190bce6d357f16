"""Plain-numpy references for learning-to-rank bandits and click models.

These are written from the papers (the formulas are in each class docstring) so that the
JAX implementation can be cross-checked against them.
No JAX here, on purpose.

Conventions (shared with the JAX code):

* Items are ``0..L-1``. A slate is an int array ``(K,)`` of distinct items, position 1 first.
* Feedback of a round: ``clicks (K,)`` 0/1 floats and ``observed (K,)`` bools. In the cascade model,
  ``observed`` covers positions up to and including the first click, or all ``K`` if there is no
  click.
* Rounds are 1-based: ``t`` is the index of the round about to be played (``t = 1`` first).
* Statistics start empty (``T(e) = 0``), and an unseen item has index ``+inf``.
* The slate of an index policy is the ``K`` largest indices in decreasing order
  (see :func:`top_k_slate`; ties are broken by the lowest item id).
"""

from __future__ import annotations

import itertools
from collections import deque

import numpy as np

KL_TOL = 1e-9

# ---------------------------------------------------------------------------------------------
# Slates and their validity
# ---------------------------------------------------------------------------------------------


def top_k_slate(indices, slate_size):
    """The ``K`` items with the largest indices, in decreasing order.

    Ties are broken by the lowest item id (a stable sort).
    """
    indices = np.asarray(indices, dtype=np.float64)
    order = np.argsort(-indices, kind="stable")
    return order[:slate_size].astype(np.int64)


def greedy_ranked_slate(indices):
    """Ranked bandits: ``slate[j]`` is the argmax of row ``j`` over the items not in ``slate[:j]``.

    Ties are broken by the lowest item id.
    """
    indices = np.asarray(indices, dtype=np.float64)
    num_pos, num_items = indices.shape
    chosen = np.zeros(num_items, dtype=bool)
    slate = np.empty(num_pos, dtype=np.int64)
    for j in range(num_pos):
        candidates = np.flatnonzero(~chosen)
        e = candidates[np.argmax(indices[j, candidates])]
        slate[j] = e
        chosen[e] = True
    return slate


def _ge(a, b, atol):
    """``a >= b - atol``, with infinities compared exactly."""
    if np.isnan(a) or np.isnan(b):
        return False
    if np.isinf(a) or np.isinf(b):
        return a >= b
    return a >= b - atol


def _basic_slate_ok(slate, num_items, slate_size=None):
    slate = np.asarray(slate)
    if slate.ndim != 1 or (slate_size is not None and slate.shape[0] != slate_size):
        return False
    if not np.issubdtype(slate.dtype, np.integer):
        return False
    if np.any(slate < 0) or np.any(slate >= num_items):
        return False
    return len(np.unique(slate)) == len(slate)


def is_valid_slate(indices, slate, atol=1e-9):
    """Check that the slate is a valid top-K choice of an index policy.

    Both of these must hold, up to ``atol``:

    * the slate's items have the ``K`` largest indices (ties allowed: any tied item may be chosen);
    * they appear in non-increasing order of index.
    """
    indices = np.asarray(indices, dtype=np.float64)
    slate = np.asarray(slate)
    if not _basic_slate_ok(slate, indices.shape[0]):
        return False
    vals = indices[slate]
    for k in range(len(slate) - 1):
        if not _ge(vals[k], vals[k + 1], atol):
            return False
    rest = np.setdiff1d(np.arange(indices.shape[0]), slate)
    if rest.size == 0:
        return True
    return _ge(vals.min(), indices[rest].max(), atol)


def is_valid_ranked_slate(indices, slate, atol=1e-9):
    """Check a ranked-bandit slate: ``slate[j]`` maximises row ``j`` over the items not in ``slate[:j]``.

    ``indices`` has shape ``(K, L)``.
    """
    indices = np.asarray(indices, dtype=np.float64)
    slate = np.asarray(slate)
    num_pos, num_items = indices.shape
    if not _basic_slate_ok(slate, num_items, num_pos):
        return False
    for j in range(num_pos):
        allowed = np.setdiff1d(np.arange(num_items), slate[:j])
        if not _ge(indices[j, slate[j]], indices[j, allowed].max(), atol):
            return False
    return True


# ---------------------------------------------------------------------------------------------
# Bernoulli KL and the KL-UCB upper bound
# ---------------------------------------------------------------------------------------------


def bernoulli_kl(p, q):
    """``KL(Bern(p) || Bern(q)) = p log(p/q) + (1-p) log((1-p)/(1-q))``, with ``0 log 0 = 0``.

    Returns ``+inf`` where ``q`` is 0 or 1 and ``p`` differs from it.
    """
    p = float(p)
    q = float(q)
    out = 0.0
    if p > 0.0:
        out += np.inf if q <= 0.0 else p * np.log(p / q)
    if p < 1.0:
        out += np.inf if q >= 1.0 else (1.0 - p) * np.log((1.0 - p) / (1.0 - q))
    return out


def kl_ucb_threshold(t):
    """``max(log t + 3 log log t, 0)`` (Kveton et al. 2015, CascadeKL-UCB).

    It is 0 where the expression is negative or undefined (``t <= 2``).
    """
    if t <= 2:
        return 0.0
    return max(np.log(t) + 3.0 * np.log(np.log(t)), 0.0)


def kl_ucb_upper(p_hat, count, threshold, tol=KL_TOL):
    """The largest ``q`` in ``[p_hat, 1]`` with ``count * KL(p_hat || q) <= threshold``.

    The root is found by bisection in float64 to a bracket of ``tol``. The feasible end of the
    bracket is returned. ``count == 0`` gives ``+inf``.
    """
    if count <= 0:
        return np.inf
    p = min(max(float(p_hat), 0.0), 1.0)
    if p >= 1.0:
        return 1.0
    if threshold <= 0.0:
        return p
    lo, hi = p, 1.0
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if count * bernoulli_kl(p, mid) <= threshold:
            lo = mid
        else:
            hi = mid
    return lo


# ---------------------------------------------------------------------------------------------
# Per-item statistics shared by the cascade index policies
# ---------------------------------------------------------------------------------------------


class _CascadeItemStats:
    """``T(e)`` (number of observations) and ``ŵ(e)`` (running mean of clicks) per item.

    This is the update of Kveton et al. 2015, Algorithm 1: for ``k = 1..min(C_t, K)``,
    ``T(a_k) += 1`` and ``ŵ(a_k)`` becomes the running mean of ``1{C_t = k}``.
    """

    def __init__(self, num_items, slate_size):
        self.num_items = int(num_items)
        self.slate_size = int(slate_size)
        self.counts = np.zeros(self.num_items, dtype=np.float64)
        self.means = np.zeros(self.num_items, dtype=np.float64)

    def update(self, t, slate, clicks, observed):
        slate = np.asarray(slate)
        clicks = np.asarray(clicks, dtype=np.float64)
        observed = np.asarray(observed, dtype=bool)
        for k in range(len(slate)):
            if observed[k]:
                e = slate[k]
                self.counts[e] += 1.0
                self.means[e] += (clicks[k] - self.means[e]) / self.counts[e]

    def slate(self, t):
        return top_k_slate(self.indices(t), self.slate_size)


class CascadeUCB1(_CascadeItemStats):
    """CascadeUCB1 (Kveton, Szepesvári, Wen, Ashkan 2015, Algorithm 1 with the UCB1 index).

    The index is ``U_t(e) = ŵ(e) + sqrt(1.5 log(t-1) / T(e))``, with ``log(t-1) := 0`` for
    ``t <= 2``. ``T(e) = 0`` gives ``+inf``.

    The paper's ``c_{t-1, T_{t-1}(e)}`` uses ``log(t-1)`` at round ``t``. The paper starts from
    one free observation of every item (``T_0 = 1``); the driftsim convention starts from 0.
    """

    def __init__(self, num_items, slate_size, *, alpha=1.5):
        super().__init__(num_items, slate_size)
        self.alpha = float(alpha)

    def indices(self, t):
        log_term = np.log(t - 1) if t > 2 else 0.0
        out = np.full(self.num_items, np.inf)
        seen = self.counts > 0
        out[seen] = self.means[seen] + np.sqrt(self.alpha * log_term / self.counts[seen])
        return out


class CascadeKLUCB(_CascadeItemStats):
    """CascadeKL-UCB (Kveton et al. 2015).

    The index is ``U_t(e) = max{q in [ŵ, 1] : T(e) KL(ŵ || q) <= log t + 3 log log t}``. The
    threshold is clamped at 0 (``t <= 2``). ``T(e) = 0`` gives ``+inf``.
    """

    def indices(self, t):
        thr = kl_ucb_threshold(t)
        return np.array(
            [kl_ucb_upper(self.means[e], self.counts[e], thr) for e in range(self.num_items)]
        )


# ---------------------------------------------------------------------------------------------
# Non-stationary cascade bandits (Li & de Rijke 2019)
# ---------------------------------------------------------------------------------------------


class CascadeDUCB:
    """CascadeDUCB (Li & de Rijke 2019; Garivier & Moulines 2011 D-UCB, lifted to the cascade model).

    After each round, every item is discounted: ``N(i) <- γ N(i) + 1{i observed}`` and
    ``S(i) <- γ S(i) + 1{i clicked}``. So at the decision for round ``t``,
    ``N(i) = Σ_{s<t} γ^{t-1-s} 1{i observed at s}``.

    The index is ``S(i)/N(i) + 2 B sqrt(ξ log N_tot / N(i))``, with ``N_tot = Σ_j N(j)`` (all
    ``L`` items) and ``log`` clamped at 0. ``N(i) == 0`` (never observed) gives ``+inf``.

    Theory (Li & de Rijke, after GM with ``B = 1``): ``γ = 1 - (1/4) sqrt(Υ_n / n)``; see
    :func:`ducb_theory_gamma`.
    """

    def __init__(self, num_items, slate_size, *, gamma, xi=0.5, B=1.0):
        if not 0.0 < gamma <= 1.0:
            raise ValueError("gamma must be in (0, 1]")
        self.num_items = int(num_items)
        self.slate_size = int(slate_size)
        self.gamma = float(gamma)
        self.xi = float(xi)
        self.B = float(B)
        self.disc_counts = np.zeros(self.num_items)
        self.disc_clicks = np.zeros(self.num_items)

    def indices(self, t):
        total = self.disc_counts.sum()
        log_term = max(np.log(total), 0.0) if total > 0 else 0.0
        out = np.full(self.num_items, np.inf)
        seen = self.disc_counts > 0
        n = self.disc_counts[seen]
        out[seen] = self.disc_clicks[seen] / n + 2.0 * self.B * np.sqrt(self.xi * log_term / n)
        return out

    def update(self, t, slate, clicks, observed):
        slate = np.asarray(slate)
        clicks = np.asarray(clicks, dtype=np.float64)
        observed = np.asarray(observed, dtype=bool)
        self.disc_counts *= self.gamma
        self.disc_clicks *= self.gamma
        for k in range(len(slate)):
            if observed[k]:
                self.disc_counts[slate[k]] += 1.0
                self.disc_clicks[slate[k]] += clicks[k]

    def slate(self, t):
        return top_k_slate(self.indices(t), self.slate_size)


class CascadeSWUCB:
    """CascadeSWUCB (Li & de Rijke 2019; Garivier & Moulines 2011 SW-UCB, lifted to the cascade model).

    The statistics are over the last ``τ`` played rounds, ``s in [max(1, t-τ), t-1]``:
    ``N(i)`` is the number of observations of ``i`` and ``S(i)`` its clicks.

    The index is ``S(i)/N(i) + B sqrt(ξ log min(t-1, τ) / N(i))``, with ``log`` clamped at 0.
    ``N(i) == 0`` in the window gives ``+inf``. The paper writes ``min(t, τ)`` with its ``t`` =
    rounds played, which is ``t-1`` in our 1-based decision index.

    Theory (Li & de Rijke, after GM with ``B = 1``): ``τ = 2 sqrt(n ln n / Υ_n)``; see
    :func:`swucb_theory_tau`.
    """

    def __init__(self, num_items, slate_size, *, tau, xi=0.5, B=1.0):
        if tau < 1:
            raise ValueError("tau must be >= 1")
        self.num_items = int(num_items)
        self.slate_size = int(slate_size)
        self.tau = int(tau)
        self.xi = float(xi)
        self.B = float(B)
        self.history = deque(maxlen=self.tau)  # one (obs_count (L,), click_count (L,)) per round
        self.rounds_played = 0

    def window_stats(self):
        counts = np.zeros(self.num_items)
        click_sums = np.zeros(self.num_items)
        for c, s in self.history:
            counts += c
            click_sums += s
        return counts, click_sums

    def indices(self, t):
        counts, click_sums = self.window_stats()
        horizon = min(t - 1, self.tau)
        log_term = np.log(horizon) if horizon > 1 else 0.0
        out = np.full(self.num_items, np.inf)
        seen = counts > 0
        n = counts[seen]
        out[seen] = click_sums[seen] / n + self.B * np.sqrt(self.xi * log_term / n)
        return out

    def update(self, t, slate, clicks, observed):
        slate = np.asarray(slate)
        clicks = np.asarray(clicks, dtype=np.float64)
        observed = np.asarray(observed, dtype=bool)
        c = np.zeros(self.num_items)
        s = np.zeros(self.num_items)
        for k in range(len(slate)):
            if observed[k]:
                c[slate[k]] += 1.0
                s[slate[k]] += clicks[k]
        self.history.append((c, s))
        self.rounds_played += 1

    def slate(self, t):
        return top_k_slate(self.indices(t), self.slate_size)


def ducb_theory_gamma(horizon, num_breakpoints, B=1.0):
    """``γ = 1 - (4B)^{-1} sqrt(Υ_T / T)`` (Garivier & Moulines 2011; Li & de Rijke 2019 with B = 1)."""
    return 1.0 - np.sqrt(num_breakpoints / horizon) / (4.0 * B)


def swucb_theory_tau(horizon, num_breakpoints, B=1.0):
    """``τ = 2B sqrt(T log T / Υ_T)`` (Garivier & Moulines 2011; Li & de Rijke 2019 with B = 1).

    The result is rounded up to an integer.
    """
    return int(np.ceil(2.0 * B * np.sqrt(horizon * np.log(horizon) / num_breakpoints)))


# ---------------------------------------------------------------------------------------------
# Ranked bandits with KL-UCB learners (Radlinski, Kleinberg, Joachims 2008; Kveton et al. 2015)
# ---------------------------------------------------------------------------------------------


class RankedKLUCB:
    """RankedKL-UCB: one KL-UCB learner per position.

    This is the Ranked Bandits Algorithm of Radlinski et al. 2008, with KL-UCB as the base
    learner, as used as a baseline by Kveton et al. 2015.

    * ``indices(t)`` has shape ``(K, L)``. Row ``j`` is learner ``j``'s KL-UCB indices, with the
      global round ``t`` in ``log t + 3 log log t`` (clamped at 0). ``T[j, e] = 0`` gives ``+inf``.
    * The slate is ``slate[j] = argmax`` of row ``j`` over the items not in ``slate[:j]``
      (:func:`greedy_ranked_slate`). So no duplicates arise. RBA would instead replace a
      duplicate by an arbitrary item and credit 0 to the learner's own pick.
    * Update (RBA): **every** position ``j`` updates, with item ``slate[j]`` and reward
      ``clicks[j]``, whether or not it was examined. With ``update_unobserved=False``, only
      observed positions update; that is a non-RBA variant.
    """

    def __init__(self, num_items, slate_size, *, update_unobserved=True):
        self.num_items = int(num_items)
        self.slate_size = int(slate_size)
        self.update_unobserved = bool(update_unobserved)
        self.counts = np.zeros((self.slate_size, self.num_items))
        self.means = np.zeros((self.slate_size, self.num_items))

    def indices(self, t):
        thr = kl_ucb_threshold(t)
        out = np.empty((self.slate_size, self.num_items))
        for j in range(self.slate_size):
            for e in range(self.num_items):
                out[j, e] = kl_ucb_upper(self.means[j, e], self.counts[j, e], thr)
        return out

    def update(self, t, slate, clicks, observed):
        slate = np.asarray(slate)
        clicks = np.asarray(clicks, dtype=np.float64)
        observed = np.asarray(observed, dtype=bool)
        for j in range(self.slate_size):
            if not (self.update_unobserved or observed[j]):
                continue
            e = slate[j]
            self.counts[j, e] += 1.0
            self.means[j, e] += (clicks[j] - self.means[j, e]) / self.counts[j, e]

    def slate(self, t):
        return greedy_ranked_slate(self.indices(t))


# ---------------------------------------------------------------------------------------------
# CascadeLinUCB (Zong et al. 2016)
# ---------------------------------------------------------------------------------------------


class CascadeLinUCB:
    """CascadeLinUCB (Zong, Ni, Sung, Ke, Wen, Kveton 2016, Algorithm 1).

    ``M_0 = λ I_d`` (the paper has ``λ = 1``) and ``B_0 = 0``. Then:

    * ``θ̄ = σ^{-2} M^{-1} B``;
    * ``U(e) = min(x_e^T θ̄ + c sqrt(x_e^T M^{-1} x_e), 1)``;
    * for every observed position ``k``: ``M += σ^{-2} x_{a_k} x_{a_k}^T`` and
      ``B += x_{a_k} · click_k``.

    Unseen items get no ``+inf``; the width does the exploring.
    """

    def __init__(self, num_items, slate_size, *, dim, sigma=1.0, lam=1.0, c=1.0):
        self.num_items = int(num_items)
        self.slate_size = int(slate_size)
        self.dim = int(dim)
        self.sigma = float(sigma)
        self.lam = float(lam)
        self.c = float(c)
        self.M = self.lam * np.eye(self.dim)
        self.b = np.zeros(self.dim)

    def theta(self):
        return np.linalg.solve(self.M, self.b) / self.sigma**2

    def indices(self, t, features):
        x = np.asarray(features, dtype=np.float64)
        m_inv_x = np.linalg.solve(self.M, x.T)  # (d, L)
        width = np.sqrt(np.maximum(np.einsum("ld,dl->l", x, m_inv_x), 0.0))
        return np.minimum(x @ self.theta() + self.c * width, 1.0)

    def update(self, t, slate, clicks, observed, features):
        x = np.asarray(features, dtype=np.float64)
        slate = np.asarray(slate)
        clicks = np.asarray(clicks, dtype=np.float64)
        observed = np.asarray(observed, dtype=bool)
        for k in range(len(slate)):
            if observed[k]:
                xe = x[slate[k]]
                self.M += np.outer(xe, xe) / self.sigma**2
                self.b += xe * clicks[k]

    def slate(self, t, features):
        return top_k_slate(self.indices(t, features), self.slate_size)


def cascade_linucb_theory_c(horizon, slate_size, dim, sigma=1.0, theta_norm=1.0):
    """The smallest ``c`` of Zong et al.'s bound (paper case ``λ = 1``).

    ``c = (1/σ) sqrt(d log(1 + nK/(dσ²)) + 2 log(nK)) + ||θ*||``.
    """
    nk = horizon * slate_size
    return (
        np.sqrt(dim * np.log(1.0 + nk / (dim * sigma**2)) + 2.0 * np.log(nk)) / sigma + theta_norm
    )


# ---------------------------------------------------------------------------------------------
# CascadeTS (Beta-Bernoulli) and PBM-UCB
# ---------------------------------------------------------------------------------------------


class CascadeTS:
    """Cascading Thompson sampling with Beta-Bernoulli updates.

    Sources: Cheung, Tan, Zhong 2019; Zhong, Cheung, Tan 2021 "CTS"; Huyuk & Tekin 2019.

    The posterior of ``w(e)`` is ``Beta(a0 + clicks(e), b0 + observed-but-not-clicked(e))``,
    with ``a0 = b0 = 1`` by default.
    """

    def __init__(self, num_items, slate_size, *, alpha0=1.0, beta0=1.0, seed=0):
        self.num_items = int(num_items)
        self.slate_size = int(slate_size)
        self.alpha = np.full(self.num_items, float(alpha0))
        self.beta = np.full(self.num_items, float(beta0))
        self._rng = np.random.default_rng(seed)

    def posterior_params(self):
        return self.alpha.copy(), self.beta.copy()

    def indices(self, t, rng=None):
        rng = self._rng if rng is None else rng
        return rng.beta(self.alpha, self.beta)

    def update(self, t, slate, clicks, observed):
        slate = np.asarray(slate)
        clicks = np.asarray(clicks, dtype=np.float64)
        observed = np.asarray(observed, dtype=bool)
        for k in range(len(slate)):
            if observed[k]:
                self.alpha[slate[k]] += clicks[k]
                self.beta[slate[k]] += 1.0 - clicks[k]

    def slate(self, t, rng=None):
        return top_k_slate(self.indices(t, rng), self.slate_size)


class PBMUCB:
    """PBM-UCB (Lagrée, Vernade, Cappé 2016) with known examination probabilities ``κ (K,)``.

    Statistics:

    * ``S(e)``: clicks of item ``e``;
    * ``N(e)``: displays of ``e``;
    * ``Ñ(e) = Σ κ_{pos}`` over its displays.

    The index is ``S/Ñ + sqrt(N/Ñ) sqrt(δ / (2Ñ))``, with ``δ = (1+ε) max(log t, 0)``.
    ``Ñ = 0`` gives ``+inf``.

    Every displayed position updates (PBM feedback); ``observed`` is ignored. The slate places
    the highest index at the position with the largest ``κ``, the next at the next largest, and
    so on. With ``κ`` non-increasing this is :func:`top_k_slate`.
    """

    def __init__(self, num_items, slate_size, *, kappa, epsilon=0.0):
        self.num_items = int(num_items)
        self.slate_size = int(slate_size)
        self.kappa = np.asarray(kappa, dtype=np.float64)
        if self.kappa.shape != (self.slate_size,):
            raise ValueError("kappa must have shape (slate_size,)")
        self.epsilon = float(epsilon)
        self.clicks = np.zeros(self.num_items)
        self.displays = np.zeros(self.num_items)
        self.weighted_displays = np.zeros(self.num_items)

    def indices(self, t):
        delta = (1.0 + self.epsilon) * (np.log(t) if t > 1 else 0.0)
        out = np.full(self.num_items, np.inf)
        seen = self.weighted_displays > 0
        nt = self.weighted_displays[seen]
        out[seen] = self.clicks[seen] / nt + np.sqrt(self.displays[seen] / nt) * np.sqrt(
            delta / (2.0 * nt)
        )
        return out

    def update(self, t, slate, clicks, observed=None):
        slate = np.asarray(slate)
        clicks = np.asarray(clicks, dtype=np.float64)
        for k in range(len(slate)):
            e = slate[k]
            self.clicks[e] += clicks[k]
            self.displays[e] += 1.0
            self.weighted_displays[e] += self.kappa[k]

    def slate(self, t):
        best = top_k_slate(self.indices(t), self.slate_size)
        positions = np.argsort(-self.kappa, kind="stable")
        out = np.empty(self.slate_size, dtype=np.int64)
        out[positions] = best
        return out


# ---------------------------------------------------------------------------------------------
# Click models
# ---------------------------------------------------------------------------------------------

_MODELS = ("cascade", "pbm", "dcm")


def _check_model(model):
    if model not in _MODELS:
        raise ValueError(f"model must be one of {_MODELS}, got {model!r}")


def expected_clicks(model, w_slate, examination=None, continuation=None):
    """Expected number of clicks on a slate with attraction probabilities ``w_slate (K,)``.

    * ``"cascade"``: ``1 - Π_k (1 - w_k)``.
    * ``"pbm"``: ``Σ_k κ_k w_k``, with ``κ = examination`` (K,).
    * ``"dcm"``: ``Σ_k P(examine k) w_k``. Here ``P(examine 1) = 1`` and
      ``P(examine k+1) = P(examine k) (1 - w_k (1 - λ_k))``, with ``λ = continuation`` (K,),
      the probability of going on after a click.
    """
    _check_model(model)
    w = np.asarray(w_slate, dtype=np.float64)
    if model == "cascade":
        return float(1.0 - np.prod(1.0 - w))
    if model == "pbm":
        kappa = np.asarray(examination, dtype=np.float64)
        return float(np.sum(kappa * w))
    lam = np.asarray(continuation, dtype=np.float64)
    reach = 1.0
    total = 0.0
    for k in range(len(w)):
        total += reach * w[k]
        reach *= 1.0 - w[k] * (1.0 - lam[k])
    return float(total)


def best_slate_value(model, w, slate_size, examination=None, continuation=None):
    """Brute force over all ordered ``K``-subsets of ``L`` items. Use small ``L`` only.

    Returns ``(value, slate)`` of a maximiser.
    """
    w = np.asarray(w, dtype=np.float64)
    best_val, best = -np.inf, None
    for perm in itertools.permutations(range(len(w)), slate_size):
        val = expected_clicks(model, w[list(perm)], examination, continuation)
        if val > best_val:
            best_val, best = val, np.array(perm, dtype=np.int64)
    return best_val, best


def simulate_round(model, w_slate, rng, examination=None, continuation=None):
    """One user interaction. Returns ``(clicks (K,) float, observed (K,) bool)``.

    * ``"cascade"``: the user clicks the first attractive item. ``observed`` covers positions up
      to and including the click, or all if there is no click.
    * ``"pbm"``: position ``k`` is examined with probability ``κ_k``, and a click happens on
      examination AND attraction. ``observed`` is all positions.
    * ``"dcm"``: the user scans from the top and clicks attractive items. After a click at
      ``k`` she goes on with probability ``λ_k``. ``observed`` covers positions up to the last
      click, or all if there is no click.
    """
    _check_model(model)
    w = np.asarray(w_slate, dtype=np.float64)
    num = len(w)
    clicks = np.zeros(num)
    observed = np.zeros(num, dtype=bool)
    if model == "cascade":
        attractive = rng.random(num) < w
        hit = np.flatnonzero(attractive)
        if hit.size:
            clicks[hit[0]] = 1.0
            observed[: hit[0] + 1] = True
        else:
            observed[:] = True
        return clicks, observed
    if model == "pbm":
        kappa = np.asarray(examination, dtype=np.float64)
        examined = rng.random(num) < kappa
        attractive = rng.random(num) < w
        clicks[:] = (examined & attractive).astype(np.float64)
        observed[:] = True
        return clicks, observed
    lam = np.asarray(continuation, dtype=np.float64)
    for k in range(num):
        if rng.random() < w[k]:
            clicks[k] = 1.0
            if rng.random() >= lam[k]:
                break
    hit = np.flatnonzero(clicks)
    if hit.size:
        observed[: hit[-1] + 1] = True
    else:
        observed[:] = True
    return clicks, observed
