"""Real-data loaders and the classification bandit.

Every loader is tested on small files the tests write in the real layout (so CI covers the
code without scikit-learn or obp); the bundled files themselves are checked when present.
"""

import gzip
import importlib.metadata
import importlib.util

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simulator import datasets
from simulator.classification import ClassificationBandit, from_data
from simulator.params import ConfigError
from tests.conformance import check_environment

HAS_SKLEARN = importlib.util.find_spec("sklearn") is not None
needs_sklearn = pytest.mark.skipif(not HAS_SKLEARN, reason="scikit-learn not installed")


# --------------------------------------------------------------------------------------
# Classification data
# --------------------------------------------------------------------------------------


def test_arrays_are_standardised_and_validated():
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, (30, 3))
    x[:, 2] = 7.0  # a constant column becomes 0
    data = datasets.classification_from_arrays(x, np.arange(30) % 3)
    np.testing.assert_allclose(data.features[:, :2].mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(data.features[:, :2].std(axis=0), 1.0, atol=1e-5)
    np.testing.assert_array_equal(data.features[:, 2], 0.0)
    assert data.num_classes == 3 and data.labels.dtype == np.int32
    assert not data.features.flags.writeable
    with pytest.raises(ConfigError, match="labels has shape"):
        datasets.classification_from_arrays(x, np.arange(29))
    with pytest.raises(ConfigError, match="integer class indices"):
        datasets.classification_from_arrays(x, np.full(30, 0.5))
    with pytest.raises(ConfigError, match="num_classes"):
        datasets.classification_from_arrays(x, np.zeros(30))
    with pytest.raises(ConfigError, match="finite"):
        datasets.classification_from_arrays(np.full((30, 3), np.nan), np.arange(30) % 2)


def _write_sklearn_layout(folder, rng):
    """Fake iris.csv (with header) and digits.csv.gz (without) of the real shapes."""
    iris = np.c_[rng.normal(size=(150, 4)).round(2), np.repeat([0, 1, 2], 50)]
    text = "150,4,setosa,versicolor,virginica\n" + "\n".join(
        ",".join(f"{v:g}" for v in row) for row in iris
    )
    (folder / "iris.csv").write_text(text)
    digits = np.c_[rng.integers(0, 17, (1797, 64)), np.arange(1797) % 10]
    with gzip.open(folder / "digits.csv.gz", "wt") as handle:
        handle.write("\n".join(",".join(str(v) for v in row) for row in digits))
    return iris, digits


def test_sklearn_layout_is_read_from_a_folder(tmp_path):
    iris, digits = _write_sklearn_layout(tmp_path, np.random.default_rng(1))
    data = datasets.load_classification("iris", str(tmp_path))
    np.testing.assert_array_equal(data.labels, iris[:, -1])
    np.testing.assert_allclose(data.features, datasets.standardise(iris[:, :-1]), atol=1e-6)
    data = datasets.load_classification("digits", str(tmp_path))
    assert data.features.shape == (1797, 64) and data.num_classes == 10
    np.testing.assert_array_equal(data.labels, digits[:, -1])
    with pytest.raises(ConfigError, match=r"expected the file wine_data.csv in .*pip install"):
        datasets.load_classification("wine", str(tmp_path))
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "iris.csv").write_text("150,4,a,b,c\n1,2,3\n")
    with pytest.raises(ConfigError, match="expected 150 rows of 4 features"):
        datasets.load_classification("iris", str(bad))
    with pytest.raises(ConfigError, match="unknown; allowed: blobs, iris"):
        datasets.load_classification("mnist")


def test_missing_sklearn_says_how_to_install(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match=r"scikit-learn: install it with: pip install"):
        datasets.sklearn_data_dir()


@needs_sklearn
def test_bundled_datasets_have_their_documented_shapes():
    for name in datasets.BUNDLED:
        data = datasets.load_classification(name)
        info = datasets.CLASSIFICATION_DATASETS[name]
        assert data.features.shape == (info.num_examples, info.num_features)
        assert set(np.unique(data.labels)) == set(range(info.num_classes))
    np.testing.assert_array_equal(
        np.bincount(datasets.load_classification("iris").labels), [50, 50, 50]
    )
    np.testing.assert_array_equal(
        np.bincount(datasets.load_classification("breast_cancer").labels), [212, 357]
    )


# --------------------------------------------------------------------------------------
# The classification bandit
# --------------------------------------------------------------------------------------


def test_environment_from_arrays_conforms():
    # (the registered default, dataset="blobs", is in the conformance suite)
    x = np.random.default_rng(0).normal(size=(12, 2))
    env, params = from_data(x, np.arange(12) % 3)
    check_environment(env)
    assert env.spec[:3] == (3, 2, 0) and params.features.shape == (12, 2)
    assert env == from_data(x.copy(), np.arange(12) % 3)[0]  # compared by content
    assert env != from_data(x + 1.0, np.arange(12) % 2)[0]


def test_stream_rewards_and_oracle_match_a_reference():
    """Each example once per pass in the run's permutation, reward 1[a == y] XOR flip."""
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(7, 3)), rng.integers(0, 3, 7)
    y[:3] = [0, 1, 2]
    env, params = from_data(x, y)
    params = params.replace(flip_prob=0.3)
    key = jax.random.key(5)
    reset, step = jax.jit(env.reset), jax.jit(env.step)
    state, timestep = reset(key, params)
    order = np.asarray(jax.random.permutation(key, 7))
    features = np.asarray(params.features)
    for t in range(17):  # more than two passes: wrap-around
        example = order[t % 7]
        np.testing.assert_allclose(np.asarray(timestep.context.features), features[example])
        expected = np.where(np.arange(3) == y[example], 0.7, 0.3)
        np.testing.assert_allclose(np.asarray(timestep.oracle.expected_reward), expected, 1e-6)
        action = t % 3
        key_t = jax.random.key(100 + t)
        state, timestep = step(key_t, state, jnp.int32(action), params)
        flipped = float(jax.random.uniform(key_t)) < 0.3
        assert float(timestep.reward) == float((action == y[example]) != flipped)


def test_environment_validates_its_fields():
    with pytest.raises(ConfigError, match="env.dataset = 'mnist': unknown"):
        ClassificationBandit(dataset="mnist")
    with pytest.raises(ConfigError, match="dataset 'iris' has num_classes = 3"):
        ClassificationBandit(dataset="iris", num_classes=4)
    with pytest.raises(ConfigError, match="give num_features and num_classes"):
        ClassificationBandit(dataset="arrays")
    with pytest.raises(ConfigError, match="from_data"):
        ClassificationBandit(dataset="arrays", num_features=2, num_classes=2).default_params()
    env = ClassificationBandit(num_examples=30, num_features=3, num_classes=2)
    assert env.default_params().features.shape == (30, 3)
    wrong = env.default_params().replace(features=np.zeros((30, 4), np.float32))
    with pytest.raises(ConfigError, match="env.features has shape"):
        env.reset(jax.random.key(0), wrong)


def test_linucb_learns_blobs_and_random_does_not():
    import agents
    from experiments.runner import make_run

    env = ClassificationBandit()
    params = env.default_params()
    keys = jax.random.split(jax.random.key(0), 4)
    rewards = {}
    for name, static in (("linucb", {"mode": "disjoint"}), ("random", {})):
        fields = {"num_arms": 4, **({"context_dim": 8, "arm_dim": 0} if static else {})}
        agent = agents.make(name, **fields, **static)
        run = jax.jit(jax.vmap(make_run(env, agent, 400), in_axes=(0, None, None)))
        rewards[name] = float(run(keys, params, agent.default_hparams()).reward[:, 200:].mean())
    assert 0.15 < rewards["random"] < 0.35  # 1/K = 0.25; 800 rounds: sd about 0.015
    assert rewards["linucb"] > 0.8


# --------------------------------------------------------------------------------------
# MovieLens 100K layout
# --------------------------------------------------------------------------------------


def _write_movielens(folder, ratings):
    """``ratings (U, N)`` with 0 = unrated, written as u.data / u.item / u.user."""
    num_users, num_items = ratings.shape
    users, items = np.nonzero(ratings)
    lines = [
        f"{u + 1}\t{i + 1}\t{ratings[u, i]}\t{880000000 + k}"
        for k, (u, i) in enumerate(zip(users, items))
    ]
    (folder / "u.data").write_text("\n".join(lines) + "\n")
    genres = "|".join(["0"] * 18 + ["1"])
    (folder / "u.item").write_bytes(
        "\n".join(
            f"{i + 1}|Film {i + 1} (1995)|01-Jan-1995||http://x|{genres}" for i in range(num_items)
        ).encode("latin-1")
    )
    (folder / "u.user").write_text(
        "\n".join(f"{u + 1}|{20 + u}|{'MF'[u % 2]}|writer|0000{u}" for u in range(num_users))
    )


def _low_rank_ratings(num_users=30, num_items=24, seed=0):
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(num_users, 2)) @ rng.normal(size=(2, num_items))
    return np.clip(np.round(3 + scores), 1, 5).astype(int)


def test_movielens_layout_and_factorisation(tmp_path):
    ratings = _low_rank_ratings()
    _write_movielens(tmp_path, ratings)
    loaded = datasets.load_movielens(tmp_path)
    assert (loaded.num_users, loaded.num_items) == ratings.shape
    assert loaded.titles[0] == "Film 1 (1995)" and loaded.genres.shape == (24, 19)
    dense = np.zeros(ratings.shape)
    dense[loaded.user, loaded.item] = loaded.rating
    np.testing.assert_array_equal(dense, ratings)
    # Closed form on a complete matrix: the biases absorb the row and column means, so the
    # best fit is the truncated SVD of the doubly centred matrix (Eckart-Young); ALS with a
    # tiny ridge reaches it.
    factors = datasets.factorise_ratings(loaded, dim=2, ridge=1e-3, num_iterations=60)
    centred = ratings - ratings.mean(0) - ratings.mean(1)[:, None] + ratings.mean()
    s = np.linalg.svd(centred, compute_uv=False)
    best = np.sqrt(np.sum(s[2:] ** 2) / ratings.size)
    assert best - 1e-6 <= factors.rmse < 1.01 * best + 1e-4
    fitted = factors.predict(loaded.user, loaded.item)
    np.testing.assert_allclose(np.sqrt(np.mean((fitted - loaded.rating) ** 2)), factors.rmse, 1e-5)


def test_movielens_users_environment(tmp_path):
    ratings = _low_rank_ratings(seed=1)
    _write_movielens(tmp_path, ratings)
    built = datasets.users_from_ratings(
        datasets.load_movielens(tmp_path), dim=3, num_candidates=4, drift="random_walk"
    )
    env, params, factors = built.env, built.params, built.factors
    assert env.spec[:3] == (4, 5, 5) and params.users.shape == (30, 5)
    state, timestep = jax.jit(env.reset)(jax.random.key(0), params)
    user, candidates = int(state.user), np.asarray(state.candidates)
    score = factors.predict(user, candidates) - factors.mean
    expected = 1 / (1 + np.exp(-(params.scale * score + params.bias)))
    np.testing.assert_allclose(np.asarray(timestep.oracle.expected_reward), expected, 1e-4)
    assert params.scale > 0  # higher predicted ratings click more


def test_movielens_bad_input(tmp_path):
    with pytest.raises(ConfigError, match="not a folder"):
        datasets.load_movielens(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match=r"expected the file u.user in .*GroupLens"):
        datasets.load_movielens(tmp_path)
    _write_movielens(tmp_path, _low_rank_ratings())
    (tmp_path / "u.data").write_text("1,1,5,0\n")
    with pytest.raises(ConfigError, match="user<TAB>item<TAB>rating<TAB>timestamp"):
        datasets.load_movielens(tmp_path)
