"""MovieLens 100K ratings (Harper & Konstan 2015), and users and items factorised from them.

Read in its original layout (``u.data``, ``u.item``, ``u.user``) from a folder you give
(its licence forbids redistribution): :func:`load_movielens`; :func:`factorise_ratings`
for user and item vectors; :func:`users_from_ratings` for drifting-users populations.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from simulator.datasets.files import read_only
from simulator.params import ConfigError

MOVIELENS_FILES = ("u.data", "u.item", "u.user")
MOVIELENS_HINT = (
    "download MovieLens 100K yourself from GroupLens (its licence forbids redistribution), "
    "unzip it and give the folder holding u.data, u.item and u.user"
)


class Ratings(NamedTuple):
    """Ratings in the MovieLens 100K layout, with 0-based contiguous ids.

    Attributes:
      user: ``(n,)`` int32 user index in ``[0, num_users)`` (MovieLens id minus 1).
      item: ``(n,)`` int32 item index in ``[0, num_items)``.
      rating: ``(n,)`` float32 rating (1..5).
      timestamp: ``(n,)`` int64 seconds since the epoch.
      num_users, num_items: from ``u.user`` and ``u.item``.
      titles: ``num_items`` movie titles; ``genres``: ``(num_items, 19)`` 0/1 int8 flags.
      user_age: ``(num_users,)`` int32; ``user_gender``, ``user_occupation``: strings.
    """

    user: np.ndarray
    item: np.ndarray
    rating: np.ndarray
    timestamp: np.ndarray
    num_users: int
    num_items: int
    titles: tuple[str, ...]
    genres: np.ndarray
    user_age: np.ndarray
    user_gender: tuple[str, ...]
    user_occupation: tuple[str, ...]


def _movielens_lines(folder: Path, name: str) -> list[str]:
    file = folder / name
    if not file.is_file():
        raise ConfigError(
            f"MovieLens: expected the file {name} in {folder}, found none; the 100K layout "
            f"is u.data (user item rating timestamp, tab-separated), u.item and u.user "
            f"('|'-separated); {MOVIELENS_HINT}"
        )
    return [line for line in file.read_bytes().decode("latin-1").splitlines() if line.strip()]


def _bad_layout(folder: Path, name: str, line_number: int, expected: str) -> ConfigError:
    return ConfigError(
        f"MovieLens: {folder / name} line {line_number} does not have the 100K layout; "
        f"expected {expected}"
    )


def load_movielens(path: str | Path) -> Ratings:
    """Read MovieLens 100K (``u.data``, ``u.item``, ``u.user``) from the folder ``path``.

    ``u.data``: ``user item rating timestamp`` separated by tabs (ids 1-based);
    ``u.item``: ``id|title|release date|video release date|IMDb URL|19 genre flags``;
    ``u.user``: ``id|age|gender|occupation|zip code`` (files in Latin-1).

    Reference: F. M. Harper & J. A. Konstan, "The MovieLens Datasets: History and Context",
    ACM TiiS 5(4) (2015).
    """
    folder = Path(path)
    if not folder.is_dir():
        raise ConfigError(f"MovieLens: {folder} is not a folder; {MOVIELENS_HINT}")
    users, ages, genders, occupations = [], [], [], []
    for n, line in enumerate(_movielens_lines(folder, "u.user"), 1):
        fields = line.split("|")
        try:
            users.append(int(fields[0]))
            ages.append(int(fields[1]))
            genders.append(fields[2])
            occupations.append(fields[3])
        except (ValueError, IndexError):
            raise _bad_layout(folder, "u.user", n, "id|age|gender|occupation|zip") from None
    items, titles, genres = [], [], []
    for n, line in enumerate(_movielens_lines(folder, "u.item"), 1):
        fields = line.split("|")
        try:
            if len(fields) != 24:
                raise ValueError
            items.append(int(fields[0]))
            titles.append(fields[1])
            genres.append([int(g) for g in fields[5:]])
        except ValueError:
            raise _bad_layout(
                folder, "u.item", n, "24 '|'-separated fields: id|title|dates|URL|19 genre flags"
            ) from None
    num_users, num_items = len(users), len(items)
    if sorted(users) != list(range(1, num_users + 1)):
        raise ConfigError(f"MovieLens: {folder / 'u.user'}: user ids must be 1..{num_users}")
    if sorted(items) != list(range(1, num_items + 1)):
        raise ConfigError(f"MovieLens: {folder / 'u.item'}: item ids must be 1..{num_items}")
    rows = []
    for n, line in enumerate(_movielens_lines(folder, "u.data"), 1):
        fields = line.split("\t")
        try:
            if len(fields) != 4:
                raise ValueError
            rows.append([int(f) for f in fields])
        except ValueError:
            raise _bad_layout(
                folder, "u.data", n, "user<TAB>item<TAB>rating<TAB>timestamp"
            ) from None
    if not rows:
        raise ConfigError(f"MovieLens: {folder / 'u.data'} holds no ratings")
    table = np.array(rows, np.int64)
    if table[:, 0].min() < 1 or table[:, 0].max() > num_users:
        raise ConfigError(f"MovieLens: u.data names a user outside u.user's 1..{num_users}")
    if table[:, 1].min() < 1 or table[:, 1].max() > num_items:
        raise ConfigError(f"MovieLens: u.data names an item outside u.item's 1..{num_items}")
    order = np.argsort(users)
    return Ratings(
        user=read_only((table[:, 0] - 1).astype(np.int32)),
        item=read_only((table[:, 1] - 1).astype(np.int32)),
        rating=read_only(table[:, 2].astype(np.float32)),
        timestamp=read_only(table[:, 3].copy()),
        num_users=num_users,
        num_items=num_items,
        titles=tuple(np.array(titles, dtype=object)[np.argsort(items)]),
        genres=read_only(np.array(genres, np.int8)[np.argsort(items)]),
        user_age=read_only(np.array(ages, np.int32)[order]),
        user_gender=tuple(np.array(genders, dtype=object)[order]),
        user_occupation=tuple(np.array(occupations, dtype=object)[order]),
    )


class Factors(NamedTuple):
    """A low-rank model of ratings: ``r_ui ~ mean + user_bias_u + item_bias_i + p_u . q_i``.

    Attributes:
      users: ``(U, d)`` float32 user vectors ``p_u``.
      items: ``(N, d)`` float32 item vectors ``q_i``.
      user_bias: ``(U,)``; ``item_bias``: ``(N,)``; ``mean``: the global mean rating.
      rmse: root mean squared error of the fit on the ratings it was fitted to.
    """

    users: np.ndarray
    items: np.ndarray
    user_bias: np.ndarray
    item_bias: np.ndarray
    mean: float
    rmse: float

    def predict(self, user: Any, item: Any) -> np.ndarray:
        """Predicted ratings of the pairs ``(user, item)`` (broadcasting index arrays)."""
        return (
            self.mean
            + self.user_bias[user]
            + self.item_bias[item]
            + np.sum(self.users[user] * self.items[item], axis=-1)
        )


def _ridge_rows(
    rows: np.ndarray, cols: np.ndarray, target: np.ndarray, other: np.ndarray, num_rows: int, ridge
) -> np.ndarray:
    """For each row ``u``: argmin_p sum_{(u, i)} (target - p . other_i)^2 + ridge |p|^2."""
    d = other.shape[1]
    x = other[cols]
    gram = np.zeros((num_rows, d, d))
    np.add.at(gram, rows, x[:, :, None] * x[:, None, :])
    rhs = np.zeros((num_rows, d))
    np.add.at(rhs, rows, x * target[:, None])
    gram += ridge * np.eye(d)
    return np.linalg.solve(gram, rhs[..., None])[..., 0]


def factorise_ratings(
    ratings: Ratings, dim: int = 8, ridge: float = 1.0, num_iterations: int = 15, seed: int = 0
) -> Factors:
    """Biased matrix factorisation by alternating least squares on the observed ratings.

    Model and loss (Koren, Bell & Volinsky 2009)::

        r_ui ~ mu + b_u + c_i + p_u . q_i
        min  sum_{(u,i) observed} (r_ui - mu - b_u - c_i - p_u . q_i)^2
             + ridge (|p_u|^2 + |q_i|^2 + b_u^2 + c_i^2)

    ALS: with the items fixed, each user's ``(p_u, b_u)`` is a ridge regression on the items
    it rated (features ``(q_i, 1)``, target ``r - mu - c_i``), and symmetrically; every user
    (item) is solved at once from its ``(d+1) x (d+1)`` normal equations.  Users or items
    with no rating get zero vectors and biases.

    Args:
      ratings: from :func:`load_movielens` (or any :class:`Ratings`).
      dim: d, the latent dimension.
      ridge: the L2 penalty.
      num_iterations: ALS sweeps.
      seed: seeds the random initial item vectors.

    Reference: Y. Koren, R. Bell & C. Volinsky, "Matrix Factorization Techniques for
    Recommender Systems", IEEE Computer 42(8) (2009).
    """
    if not isinstance(dim, int) or dim < 1:
        raise ConfigError(f"dim = {dim!r}: must be an integer >= 1")
    if not ridge > 0:
        raise ConfigError(f"ridge = {ridge!r}: must be > 0")
    u, i = ratings.user, ratings.item
    r = ratings.rating.astype(np.float64)
    mean = float(r.mean())
    rng = np.random.default_rng(seed)
    items = 0.1 * rng.standard_normal((ratings.num_items, dim))
    item_bias = np.zeros(ratings.num_items)
    users = np.zeros((ratings.num_users, dim))
    user_bias = np.zeros(ratings.num_users)
    for _ in range(num_iterations):
        solved = _ridge_rows(
            u, i, r - mean - item_bias[i], np.c_[items, np.ones(len(items))], len(users), ridge
        )
        users, user_bias = solved[:, :dim], solved[:, dim]
        solved = _ridge_rows(
            i, u, r - mean - user_bias[u], np.c_[users, np.ones(len(users))], len(items), ridge
        )
        items, item_bias = solved[:, :dim], solved[:, dim]
    prediction = mean + user_bias[u] + item_bias[i] + np.sum(users[u] * items[i], axis=1)
    rmse = float(np.sqrt(np.mean((prediction - r) ** 2)))
    return Factors(
        users=users.astype(np.float32),
        items=items.astype(np.float32),
        user_bias=user_bias.astype(np.float32),
        item_bias=item_bias.astype(np.float32),
        mean=mean,
        rmse=rmse,
    )


class RatingsUsers(NamedTuple):
    """A ``drifting_users`` environment built from factorised ratings, and how it was built.

    Attributes:
      env: the :class:`simulator.users.DriftingUsers` environment (static structure).
      params: its params, holding the user and item vectors in data fields.
      factors: the :class:`Factors` the vectors come from.
      threshold: a rating ``>= threshold`` counts as a click when fitting the click model.
    """

    env: Any
    params: Any
    factors: Factors
    threshold: float


def _fit_logistic(score: np.ndarray, label: np.ndarray, num_iterations: int = 25):
    """``(a, b)`` maximising the likelihood of ``label ~ Bernoulli(sigmoid(a s + b))``
    (Newton's method with a tiny ridge, so separable data stays finite)."""
    x = np.c_[score, np.ones_like(score)]
    w = np.zeros(2)
    for _ in range(num_iterations):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        gradient = x.T @ (label - p) - 1e-6 * w
        hessian = (x * (p * (1 - p))[:, None]).T @ x + 1e-6 * np.eye(2)
        w = w + np.linalg.solve(hessian, gradient)
    return float(w[0]), float(w[1])


def users_from_ratings(
    ratings: Ratings,
    dim: int = 8,
    threshold: float = 4.0,
    num_candidates: int = 10,
    ridge: float = 1.0,
    seed: int = 0,
    **static: Any,
) -> RatingsUsers:
    """Semi-synthetic users: a ``drifting_users`` environment whose users and items are the
    factorised ratings.

    The ratings are factorised (:func:`factorise_ratings`, dimension ``d``) and each user and
    item becomes a vector of dimension ``d + 2`` carrying the biases::

        u_u = (p_u, b_u, 1),   v_i = (q_i, 1, c_i),   u_u . v_i = r_hat_ui - mu

    so the environment's click model ``sigmoid(scale * u . v + bias)`` is a logistic model of
    the predicted rating; ``scale`` and ``bias`` are fitted by logistic regression of "the
    rating is ``>= threshold``" on ``r_hat - mu`` over the observed ratings.  Drift, arrivals
    and what the agent observes are the environment's usual static fields (``static``: e.g.
    ``drift="random_walk"``, ``arrival="zipf"``, ``observed_dims=4``).

    Example::

        ratings = load_movielens("~/data/ml-100k")
        built = users_from_ratings(ratings, dim=8, drift="endogenous")
        run = make_run(built.env, agent, 1000)(key, built.params, hparams)
    """
    from simulator.users import DriftingUsers  # here: users.py is a peer module

    factors = factorise_ratings(ratings, dim=dim, ridge=ridge, seed=seed)
    ones_u = np.ones((ratings.num_users, 1), np.float32)
    ones_i = np.ones((ratings.num_items, 1), np.float32)
    users = np.c_[factors.users, factors.user_bias[:, None], ones_u].astype(np.float32)
    items = np.c_[factors.items, ones_i, factors.item_bias[:, None]].astype(np.float32)
    score = factors.predict(ratings.user, ratings.item) - factors.mean
    liked = (ratings.rating >= threshold).astype(np.float64)
    if liked.min() == liked.max():
        raise ConfigError(
            f"threshold = {threshold!r}: every rating is on the same side of it; pick a "
            "threshold between the lowest and the highest rating"
        )
    scale, bias = _fit_logistic(score, liked)
    if not scale > 0:
        raise ConfigError(
            f"the factorised ratings do not predict ratings >= {threshold} (fitted click "
            f"scale {scale:.3g} <= 0): too few ratings, or try another dim / ridge"
        )
    env = DriftingUsers(
        num_users=ratings.num_users,
        num_items=ratings.num_items,
        num_candidates=num_candidates,
        dim=dim + 2,
        **static,
    )
    params = env.default_params().replace(
        users=read_only(users), items=read_only(items), scale=scale, bias=bias
    )
    return RatingsUsers(env=env, params=params, factors=factors, threshold=threshold)
