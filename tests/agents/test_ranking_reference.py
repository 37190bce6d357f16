"""Fast checks of the plain-numpy ranking references against closed forms.

The references are in ``tests/agents/ranking_reference.py``.
"""

import itertools

import numpy as np
import pytest

from tests.agents.ranking_reference import (
    PBMUCB,
    CascadeDUCB,
    CascadeKLUCB,
    CascadeLinUCB,
    CascadeSWUCB,
    CascadeTS,
    CascadeUCB1,
    RankedKLUCB,
    bernoulli_kl,
    best_slate_value,
    ducb_theory_gamma,
    expected_clicks,
    greedy_ranked_slate,
    is_valid_ranked_slate,
    is_valid_slate,
    kl_ucb_threshold,
    kl_ucb_upper,
    simulate_round,
    swucb_theory_tau,
    top_k_slate,
)

# --- KL-UCB ---------------------------------------------------------------------------------


def test_kl_ucb_threshold_clamped():
    assert kl_ucb_threshold(1) == 0.0
    assert kl_ucb_threshold(2) == 0.0  # log 2 + 3 log log 2 < 0
    t = 100
    assert kl_ucb_threshold(t) == pytest.approx(np.log(t) + 3 * np.log(np.log(t)))


def test_kl_ucb_bisection_is_the_largest_feasible_q():
    rng = np.random.default_rng(0)
    for _ in range(200):
        p = rng.choice([0.0, 1.0, rng.random()], p=[0.1, 0.1, 0.8])
        n = int(rng.integers(1, 200))
        thr = float(rng.uniform(0.0, 10.0))
        q = kl_ucb_upper(p, n, thr)
        assert p <= q <= 1.0
        assert n * bernoulli_kl(p, q) <= thr + 1e-12
        if q < 1.0 - 2e-9:
            assert n * bernoulli_kl(p, q + 2e-9) > thr


def test_kl_ucb_closed_form_at_zero_mean():
    # KL(0 || q) = -log(1 - q)  =>  q = 1 - exp(-thr / n).
    for n, thr in [(1, 0.5), (5, 2.0), (50, 7.3)]:
        assert kl_ucb_upper(0.0, n, thr) == pytest.approx(1 - np.exp(-thr / n), abs=2e-9)
    assert kl_ucb_upper(0.3, 0, 1.0) == np.inf
    assert kl_ucb_upper(0.3, 4, 0.0) == 0.3
    assert kl_ucb_upper(1.0, 4, 3.0) == 1.0


# --- Index policies -------------------------------------------------------------------------


def _cascade_feedback(slate, attractive):
    clicks = np.zeros(len(slate))
    observed = np.ones(len(slate), dtype=bool)
    hit = np.flatnonzero(attractive[slate])
    if hit.size:
        clicks[hit[0]] = 1.0
        observed[hit[0] + 1 :] = False
    return clicks, observed


def test_cascade_ucb1_and_klucb_closed_form():
    ucb, kl = CascadeUCB1(5, 2), CascadeKLUCB(5, 2)
    for pol in (ucb, kl):
        assert np.all(np.isinf(pol.indices(1)))
        assert list(pol.slate(1)) == [0, 1]  # ties on +inf -> lowest ids
        # Item 0 observed (no click), item 1 clicked.
        pol.update(1, np.array([0, 1]), np.array([0.0, 1.0]), np.array([True, True]))
        pol.update(2, np.array([1, 2]), np.array([1.0, 0.0]), np.array([True, False]))
    t = 5
    idx = ucb.indices(t)
    assert idx[0] == pytest.approx(0.0 + np.sqrt(1.5 * np.log(4) / 1))
    assert idx[1] == pytest.approx(1.0 + np.sqrt(1.5 * np.log(4) / 2))
    assert np.all(np.isinf(idx[2:]))  # item 2 was displayed but not observed
    assert CascadeUCB1(3, 1).indices(2)[0] == np.inf
    fresh = CascadeUCB1(3, 1)
    fresh.update(1, np.array([0]), np.array([1.0]), np.array([True]))
    assert fresh.indices(2)[0] == 1.0  # log(t-1) = 0 for t <= 2
    kidx = kl.indices(t)
    assert kidx[0] == pytest.approx(1 - np.exp(-kl_ucb_threshold(t)), abs=2e-9)
    assert kidx[1] == 1.0
    assert is_valid_slate(kidx, kl.slate(t))


def test_is_valid_slate_with_ties_and_order():
    idx = np.array([0.5, 0.9, 0.5, 0.1, np.inf])
    assert is_valid_slate(idx, np.array([4, 1, 0]))
    assert is_valid_slate(idx, np.array([4, 1, 2]))  # tie at 0.5: either item
    assert not is_valid_slate(idx, np.array([1, 4, 0]))  # wrong order
    assert not is_valid_slate(idx, np.array([4, 1, 3]))  # not top-K
    assert not is_valid_slate(idx, np.array([4, 4, 1]))  # duplicate
    ranked = np.array([[0.2, 0.9, 0.9], [0.8, 0.7, 0.1]])
    assert is_valid_ranked_slate(ranked, greedy_ranked_slate(ranked))
    assert is_valid_ranked_slate(ranked, np.array([2, 0]))
    assert not is_valid_ranked_slate(ranked, np.array([1, 1]))
    assert not is_valid_ranked_slate(ranked, np.array([1, 2]))


def test_ducb_and_swucb_closed_forms():
    L, K, gamma, tau = 4, 2, 0.9, 3
    rng = np.random.default_rng(1)
    d = CascadeDUCB(L, K, gamma=gamma, xi=0.6)
    s = CascadeSWUCB(L, K, tau=tau, xi=0.6)
    u = CascadeUCB1(L, K)
    d1 = CascadeDUCB(L, K, gamma=1.0, xi=0.75)  # gamma = 1: plain counts
    s_inf = CascadeSWUCB(L, K, tau=10_000, xi=1.5)  # huge window: CascadeUCB1
    log = []
    for t in range(1, 9):
        slate = rng.permutation(L)[:K]
        clicks, observed = _cascade_feedback(slate, rng.random(L) < 0.4)
        log.append((slate, clicks, observed))
        for pol in (d, s, u, d1, s_inf):
            pol.update(t, slate, clicks, observed)
    t = 9
    # Discounted statistics by brute force.
    n = np.zeros(L)
    c = np.zeros(L)
    for s_idx, (slate, clicks, observed) in enumerate(log, start=1):
        w = gamma ** (t - 1 - s_idx)
        for k in range(K):
            if observed[k]:
                n[slate[k]] += w
                c[slate[k]] += w * clicks[k]
    seen = n > 0
    expect = np.full(L, np.inf)
    expect[seen] = c[seen] / n[seen] + 2 * np.sqrt(0.6 * np.log(n.sum()) / n[seen])
    np.testing.assert_allclose(d.indices(t), expect, rtol=1e-12)
    # Sliding window over rounds t-tau .. t-1.
    n = np.zeros(L)
    c = np.zeros(L)
    for slate, clicks, observed in log[-tau:]:
        for k in range(K):
            if observed[k]:
                n[slate[k]] += 1
                c[slate[k]] += clicks[k]
    seen = n > 0
    expect = np.full(L, np.inf)
    expect[seen] = c[seen] / n[seen] + np.sqrt(0.6 * np.log(min(t - 1, tau)) / n[seen])
    np.testing.assert_allclose(s.indices(t), expect, rtol=1e-12)
    # Limits: a huge window with xi = 1.5 is CascadeUCB1; gamma = 1 has plain counts.
    np.testing.assert_allclose(s_inf.indices(t), u.indices(t), rtol=1e-12)
    n_tot = u.counts.sum()
    seen = u.counts > 0
    np.testing.assert_allclose(
        d1.indices(t)[seen],
        u.means[seen] + 2 * np.sqrt(0.75 * np.log(n_tot) / u.counts[seen]),
        rtol=1e-12,
    )


def test_theory_parameters():
    assert ducb_theory_gamma(10_000, 4) == pytest.approx(1 - 0.25 * 0.02)
    assert swucb_theory_tau(10_000, 4) == int(np.ceil(2 * np.sqrt(10_000 * np.log(10_000) / 4)))


def test_ranked_klucb_updates_every_position():
    pol = RankedKLUCB(4, 2)
    slate = pol.slate(1)
    assert list(slate) == [0, 1]
    pol.update(1, slate, np.array([1.0, 0.0]), np.array([True, False]))
    assert pol.counts[0, 0] == 1 and pol.means[0, 0] == 1.0
    assert pol.counts[1, 1] == 1 and pol.means[1, 1] == 0.0  # unexamined: reward 0 (RBA)
    only_obs = RankedKLUCB(4, 2, update_unobserved=False)
    only_obs.update(1, slate, np.array([1.0, 0.0]), np.array([True, False]))
    assert only_obs.counts[1].sum() == 0
    idx = pol.indices(5)
    assert idx.shape == (2, 4)
    assert idx[1, 1] == pytest.approx(1 - np.exp(-kl_ucb_threshold(5)), abs=2e-9)
    assert is_valid_ranked_slate(idx, pol.slate(5))


def test_cascade_linucb_with_one_hot_features_is_per_item_ridge():
    L, K, sigma, lam, c = 5, 2, 0.5, 2.0, 0.7
    x = np.eye(L)
    pol = CascadeLinUCB(L, K, dim=L, sigma=sigma, lam=lam, c=c)
    rng = np.random.default_rng(2)
    counts = np.zeros(L)
    sums = np.zeros(L)
    for t in range(1, 30):
        slate = pol.slate(t, x)
        assert is_valid_slate(pol.indices(t, x), slate)
        clicks, observed = _cascade_feedback(slate, rng.random(L) < 0.3)
        pol.update(t, slate, clicks, observed, x)
        counts[slate[observed]] += 1
        sums[slate[observed]] += clicks[observed]
    prec = lam + counts / sigma**2
    expect = np.minimum(sums / sigma**2 / prec + c / np.sqrt(prec), 1.0)
    np.testing.assert_allclose(pol.indices(30, x), expect, rtol=1e-10)


def test_cascade_ts_posterior_counts():
    pol = CascadeTS(4, 3, seed=3)
    pol.update(1, np.array([2, 0, 1]), np.array([0.0, 1.0, 0.0]), np.array([True, True, False]))
    a, b = pol.posterior_params()
    np.testing.assert_array_equal(a, [2, 1, 1, 1])
    np.testing.assert_array_equal(b, [1, 1, 2, 1])
    assert is_valid_slate(
        pol.indices(2, np.random.default_rng(0)), pol.slate(2, np.random.default_rng(0))
    )


def test_pbm_ucb_index_and_kappa_one_limit():
    kappa = np.array([1.0, 0.5])
    pol = PBMUCB(3, 2, kappa=kappa)
    pol.update(1, np.array([0, 1]), np.array([1.0, 0.0]))
    pol.update(2, np.array([1, 0]), np.array([1.0, 0.0]))
    t = 3
    idx = pol.indices(t)
    # Item 0: S=1, N=2, Ñ=1.5. Item 1: S=1, N=2, Ñ=1.5.
    bonus = np.sqrt(2 / 1.5) * np.sqrt(np.log(t) / (2 * 1.5))
    np.testing.assert_allclose(idx[:2], 1 / 1.5 + bonus)
    assert idx[2] == np.inf
    # With kappa = 1 it is UCB with sqrt(log t / (2N)).
    one = PBMUCB(3, 1, kappa=np.ones(1))
    one.update(1, np.array([2]), np.array([1.0]))
    assert one.indices(4)[2] == pytest.approx(1 + np.sqrt(np.log(4) / 2))
    # Unsorted kappa: the best item goes to the most examined position.
    rev = PBMUCB(3, 2, kappa=np.array([0.3, 0.9]))
    rev.clicks[:] = [0.0, 5.0, 1.0]
    rev.displays[:] = rev.weighted_displays[:] = [10.0, 10.0, 10.0]
    assert list(rev.slate(2)) == [2, 1]


# --- Click models ---------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["cascade", "pbm", "dcm"])
def test_expected_clicks_matches_monte_carlo(model):
    rng = np.random.default_rng(4)
    w = np.array([0.6, 0.3, 0.45, 0.2])
    kappa = np.array([1.0, 0.7, 0.5, 0.3])
    lam = np.array([0.6, 0.5, 0.4, 0.2])
    draws = 20_000
    totals = np.empty(draws)
    for i in range(draws):
        clicks, observed = simulate_round(model, w, rng, kappa, lam)
        assert np.all(clicks[~observed] == 0)
        if model == "cascade":
            assert clicks.sum() <= 1
        totals[i] = clicks.sum()
    mean = expected_clicks(model, w, kappa, lam)
    se = totals.std(ddof=1) / np.sqrt(draws)
    assert abs(totals.mean() - mean) < 4 * se


def test_expected_clicks_closed_forms():
    w = np.array([0.5, 0.4])
    assert expected_clicks("cascade", w) == pytest.approx(1 - 0.5 * 0.6)
    assert expected_clicks("pbm", w, examination=[1.0, 0.5]) == pytest.approx(0.7)
    # DCM with lambda = 0 is the cascade model; with lambda = 1 it is the PBM with kappa = 1.
    assert expected_clicks("dcm", w, continuation=[0.0, 0.0]) == pytest.approx(0.7)
    assert expected_clicks("dcm", w, continuation=[1.0, 1.0]) == pytest.approx(0.9)


def test_observed_masks():
    rng = np.random.default_rng(5)
    c, o = simulate_round("cascade", np.array([0.0, 1.0, 1.0]), rng)
    assert list(c) == [0, 1, 0] and list(o) == [True, True, False]
    c, o = simulate_round("dcm", np.array([1.0, 0.0, 1.0, 0.0]), rng, continuation=np.ones(4))
    assert list(c) == [1, 0, 1, 0] and list(o) == [True, True, True, False]
    c, o = simulate_round("pbm", np.zeros(3), rng, examination=np.ones(3))
    assert list(o) == [True] * 3


@pytest.mark.parametrize("model", ["cascade", "pbm", "dcm"])
def test_top_k_decreasing_is_optimal(model):
    rng = np.random.default_rng(6)
    for _ in range(15):
        L = int(rng.integers(3, 7))
        K = int(rng.integers(1, min(L, 4) + 1))
        w = rng.random(L)
        kappa = np.sort(rng.random(K))[::-1]
        lam = np.sort(rng.random(K))[::-1]
        best, _ = best_slate_value(model, w, K, kappa, lam)
        greedy = expected_clicks(model, w[top_k_slate(w, K)], kappa, lam)
        assert greedy == pytest.approx(best, abs=1e-12)
        # Sanity: the brute force really looked at every ordered subset.
        worst = min(
            expected_clicks(model, w[list(p)], kappa, lam)
            for p in itertools.permutations(range(L), K)
        )
        assert worst <= best
