"""Real data for driftsim: classification datasets, the Open Bandit Dataset, MovieLens ratings.

Everything here is plain numpy, read once in Python (never inside a compiled loop), and
returned as read-only arrays that environments hold in a ``data_field`` of their params, so
every sweep point and seed shares one copy.

Sources (nothing is ever downloaded):

* **Bundled classification datasets** (:func:`load_classification`): ``iris``, ``wine``,
  ``breast_cancer`` and ``digits`` are CSV files that ship inside the scikit-learn package
  (``sklearn/datasets/data``).  They are read directly, without importing scikit-learn;
  install it with ``pip install 'driftsim[data]'`` (or ``pip install scikit-learn``).
  ``blobs`` is a synthetic Gaussian mixture generated here (no dependency), and
  :func:`classification_from_arrays` takes any arrays you have.
* **The Open Bandit Dataset** (Saito, Aihara, Matsutani & Narita 2021; ZOZOTOWN): the
  10,000-row samples of the uniform-random (``random``) and Bernoulli Thompson sampling
  (``bts``) logging policies for the campaigns ``all``, ``men`` and ``women`` ship inside
  the ``obp`` package (``pip install --no-deps obp==0.4.1``; its files are found through
  ``importlib.metadata``, ``obp`` is never imported).  :func:`load_obd` reads them, or the
  full-size dataset in the same layout from a folder you give.
* **MovieLens 100K** (Harper & Konstan 2015) in its original layout (``u.data``, ``u.item``,
  ``u.user``) from a folder you give (its licence forbids redistribution):
  :func:`load_movielens`, and :func:`factorise_ratings` for user and item vectors.

Every missing file, missing package or unexpected layout raises :class:`ConfigError` saying
what was expected, where it looked and how to install it.
"""

from __future__ import annotations

import csv
import gzip
import importlib.metadata
import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from simulator.params import ConfigError

# --------------------------------------------------------------------------------------
# Classification datasets
# --------------------------------------------------------------------------------------


class DatasetInfo(NamedTuple):
    """Static shape of a named classification dataset (known without reading it)."""

    num_examples: int
    num_features: int
    num_classes: int
    file: str  # file name inside sklearn/datasets/data ("" for generated datasets)
    header: bool  # first line holds "n_samples,n_features,class names..."


#: Named datasets and their shapes (the bundled files are checked against these on load).
CLASSIFICATION_DATASETS: dict[str, DatasetInfo] = {
    "blobs": DatasetInfo(600, 8, 4, "", False),
    "iris": DatasetInfo(150, 4, 3, "iris.csv", True),
    "wine": DatasetInfo(178, 13, 3, "wine_data.csv", True),
    "breast_cancer": DatasetInfo(569, 30, 2, "breast_cancer.csv", True),
    "digits": DatasetInfo(1797, 64, 10, "digits.csv.gz", False),
}
#: The datasets read from scikit-learn's package data.
BUNDLED = ("iris", "wine", "breast_cancer", "digits")

SKLEARN_HINT = "install it with: pip install 'driftsim[data]'  (or: pip install scikit-learn)"
OBP_HINT = "install it with: pip install --no-deps obp==0.4.1  (Python 3.11; data files only)"


class ClassificationData(NamedTuple):
    """A classification dataset, ready for :class:`simulator.classification.ClassificationBandit`.

    Attributes:
      features: ``(n, d)`` float32, each column standardised to mean 0 and standard
        deviation 1 over the dataset (constant columns become 0).
      labels: ``(n,)`` int32 class indices in ``[0, num_classes)``.
      num_classes: K, the number of arms of the bandit.
      name: the dataset's name.
    """

    features: np.ndarray
    labels: np.ndarray
    num_classes: int
    name: str


def _read_only(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


def standardise(features: np.ndarray) -> np.ndarray:
    """Columns to mean 0 and standard deviation 1 (constant columns to 0), float32."""
    x = np.asarray(features, np.float64)
    std = x.std(axis=0)
    return ((x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)).astype(np.float32)


def classification_from_arrays(
    features: Any,
    labels: Any,
    num_classes: int | None = None,
    name: str = "arrays",
    standardise_features: bool = True,
) -> ClassificationData:
    """Validate your own arrays as a :class:`ClassificationData`.

    Args:
      features: ``(n, d)`` numbers, finite.
      labels: ``(n,)`` integer class indices ``0..K-1``.
      num_classes: K; None means ``max(labels) + 1``.
      name: a name for listings.
      standardise_features: standardise each column (see :func:`standardise`).

    Example::

        data = classification_from_arrays(x, y)
        env, params = simulator.classification.from_data(data)
    """
    x = np.asarray(features)
    y = np.asarray(labels)
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ConfigError(f"features has shape {x.shape}: must be (num_examples, num_features)")
    if y.shape != (x.shape[0],):
        raise ConfigError(f"labels has shape {y.shape}: must be (num_examples,) = ({x.shape[0]},)")
    if not np.all(np.isfinite(x.astype(np.float64))):
        raise ConfigError("features: every entry must be a finite number")
    if not np.all(np.equal(np.mod(y, 1), 0)) or (y.size and y.min() < 0):
        raise ConfigError("labels: must be integer class indices >= 0")
    y = y.astype(np.int32)
    k = int(y.max()) + 1 if num_classes is None else num_classes
    if not isinstance(k, int) or k < 2:
        raise ConfigError(f"num_classes = {k!r}: must be an integer >= 2 (one arm per class)")
    if y.max() >= k:
        raise ConfigError(f"labels: a label is {int(y.max())}: must be < num_classes = {k}")
    x = standardise(x) if standardise_features else x.astype(np.float32)
    return ClassificationData(_read_only(x), _read_only(y), k, name)


def blobs(
    num_examples: int = 600,
    num_features: int = 8,
    num_classes: int = 4,
    separation: float = 1.5,
    seed: int = 0,
) -> ClassificationData:
    """A synthetic Gaussian mixture (no dependency): class ``k`` has centre
    ``separation * c_k``, ``c_k ~ N(0, I)``, and examples ``x ~ N(centre, I)``; classes are
    balanced (``label = i mod K``).  Deterministic for a ``seed``."""
    rng = np.random.default_rng(seed)
    centres = separation * rng.standard_normal((num_classes, num_features))
    labels = np.arange(num_examples) % num_classes
    x = centres[labels] + rng.standard_normal((num_examples, num_features))
    return classification_from_arrays(x, labels, num_classes, name="blobs")


def sklearn_data_dir() -> Path:
    """The folder of scikit-learn's bundled dataset files, found without importing it."""
    try:
        spec = importlib.util.find_spec("sklearn")
    except (ImportError, ValueError):
        spec = None
    if spec is None or spec.origin is None:
        raise ConfigError(f"the bundled classification datasets need scikit-learn: {SKLEARN_HINT}")
    folder = Path(spec.origin).resolve().parent / "datasets" / "data"
    if not folder.is_dir():
        raise ConfigError(
            f"scikit-learn is installed but has no dataset folder {folder}; {SKLEARN_HINT}"
        )
    return folder


def _read_text(path: Path) -> str:
    if path.suffix == ".gz":
        with gzip.open(path, "rt") as handle:
            return handle.read()
    return path.read_text()


def _cache(function):
    """Cache a loader's results by its arguments (each file is read once per process)."""
    memo: dict[Any, Any] = {}

    def cached(*args, **kwargs):
        key = (args, tuple(sorted(kwargs.items())))
        if key not in memo:
            memo[key] = function(*args, **kwargs)
        return memo[key]

    cached.__doc__ = function.__doc__
    cached.__name__ = function.__name__
    cached.__wrapped__ = function
    return cached


@_cache
def load_classification(name: str, data_dir: str | None = None) -> ClassificationData:
    """A named classification dataset, features standardised.

    Args:
      name: ``blobs`` (generated), or ``iris``, ``wine``, ``breast_cancer``, ``digits``
        (read from scikit-learn's package data).
      data_dir: a folder holding the same CSV files; None means scikit-learn's.

    Raises:
      ConfigError: unknown name, scikit-learn missing (with the install command), or a
        file whose layout is not the expected one.
    """
    if name not in CLASSIFICATION_DATASETS:
        raise ConfigError(
            f"env.dataset = {name!r}: unknown; allowed: {', '.join(CLASSIFICATION_DATASETS)}"
        )
    info = CLASSIFICATION_DATASETS[name]
    if not info.file:
        return blobs(info.num_examples, info.num_features, info.num_classes)
    folder = Path(data_dir) if data_dir is not None else sklearn_data_dir()
    path = folder / info.file
    if not path.is_file():
        raise ConfigError(
            f"dataset {name!r}: expected the file {info.file} in {folder}, found none; "
            f"{SKLEARN_HINT}"
        )
    expected = f"{info.num_examples} rows of {info.num_features} features and a class label"
    try:
        lines = _read_text(path).strip().splitlines()
        if info.header:
            lines = lines[1:]
        table = np.array([[float(v) for v in line.split(",")] for line in lines])
    except (OSError, ValueError, EOFError) as err:
        raise ConfigError(
            f"dataset {name!r}: cannot read {path} ({err}); expected {expected}"
        ) from None
    if table.shape != (info.num_examples, info.num_features + 1):
        raise ConfigError(
            f"dataset {name!r}: {path} holds a table of shape {table.shape}; expected "
            f"{expected} (shape ({info.num_examples}, {info.num_features + 1}))"
        )
    data = classification_from_arrays(table[:, :-1], table[:, -1], info.num_classes, name=name)
    return data


# --------------------------------------------------------------------------------------
# The Open Bandit Dataset
# --------------------------------------------------------------------------------------

OBD_POLICIES = ("random", "bts")
OBD_CAMPAIGNS = ("all", "men", "women")
OBD_USER_FEATURES = tuple(f"user_feature_{i}" for i in range(4))
OBD_COLUMNS = ("item_id", "position", "click", "propensity_score") + OBD_USER_FEATURES
OBD_NUM_POSITIONS = 3


class OBDData(NamedTuple):
    """One log of the Open Bandit Dataset (one row per impression of an item at a position).

    Attributes:
      item: ``(n,)`` int32 item shown (the action), in ``[0, num_items)``.
      position: ``(n,)`` int32 slot of the recommendation, 0-based (``0, 1, 2``).
      click: ``(n,)`` float32 reward, 0 or 1.
      propensity: ``(n,)`` float32 probability that the logging policy showed ``item`` at
        ``position``.
      user_codes: ``(n, 4)`` int32 codes of the four hashed user features (an index into
        ``user_vocabulary[j]`` for column ``j``).
      user_vocabulary: per user-feature column, the sorted tuple of its hashed values.
      affinity: ``(n, num_items)`` float32 user-item affinities.
      num_items: the number of items of the campaign (80, 34 or 46 in the sample).
      policy, campaign: which log this is; ``source``: the file read.
    """

    item: np.ndarray
    position: np.ndarray
    click: np.ndarray
    propensity: np.ndarray
    user_codes: np.ndarray
    user_vocabulary: tuple[tuple[str, ...], ...]
    affinity: np.ndarray
    num_items: int
    policy: str
    campaign: str
    source: str

    @property
    def num_rows(self) -> int:
        return int(self.item.shape[0])


def obd_sample_dir() -> Path:
    """The folder ``obp/dataset/obd`` of the installed ``obp`` package (obp is not imported)."""
    try:
        distribution = importlib.metadata.distribution("obp")
    except importlib.metadata.PackageNotFoundError:
        raise ConfigError(
            "the Open Bandit Dataset sample ships inside the obp package, which is not "
            f"installed; {OBP_HINT}; or give the folder of the full dataset as path="
        ) from None
    for file in distribution.files or ():
        parts = Path(str(file)).parts
        if parts[:3] == ("obp", "dataset", "obd") and str(file).endswith(".csv"):
            return Path(distribution.locate_file(Path(*parts[:3])))
    raise ConfigError(
        f"obp {distribution.version} is installed but lists no obp/dataset/obd/*.csv files; "
        f"{OBP_HINT}"
    )


def obd_available() -> bool:
    """True when the Open Bandit Dataset sample can be found (``obp`` installed)."""
    try:
        return obd_sample_dir().is_dir()
    except ConfigError:
        return False


def _check_choice(field: str, value: Any, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ConfigError(f"{field} = {value!r}: unknown; allowed: {', '.join(allowed)}")


def obd_file(policy: str, campaign: str, path: str | Path | None = None) -> Path:
    """The CSV of a log: ``{folder}/{policy}/{campaign}/{campaign}.csv``."""
    _check_choice("policy", policy, OBD_POLICIES)
    _check_choice("campaign", campaign, OBD_CAMPAIGNS)
    folder = obd_sample_dir() if path is None else Path(path)
    file = folder / policy / campaign / f"{campaign}.csv"
    if not file.is_file():
        where = "the obp package" if path is None else "the folder you gave"
        raise ConfigError(
            f"Open Bandit Dataset: expected {policy}/{campaign}/{campaign}.csv under {folder} "
            f"({where}), found no such file; the layout is "
            "{random,bts}/{all,men,women}/{campaign}.csv as in the obp package and the "
            f"full dataset; {OBP_HINT}"
        )
    return file


@_cache
def load_obd(
    policy: str = "random",
    campaign: str = "all",
    path: str | None = None,
    max_rows: int | None = None,
) -> OBDData:
    """Read one log of the Open Bandit Dataset.

    Args:
      policy: ``"random"`` (uniform logging: propensity ``1 / num_items``) or ``"bts"``
        (Bernoulli Thompson sampling).
      campaign: ``"all"``, ``"men"`` or ``"women"``.
      path: folder of the full-size dataset in the same layout; None reads the 10,000-row
        sample inside the installed ``obp`` package.
      max_rows: read at most this many rows (the full dataset has millions).

    Returns:
      :class:`OBDData`.  Note that the sample is small: the uniform log of ``all`` has only
      38 clicks in 10,000 impressions.

    Reference: Y. Saito, S. Aihara, M. Matsutani & Y. Narita, "Open Bandit Dataset and
    Pipeline: Towards Realistic and Reproducible Off-Policy Evaluation", NeurIPS Datasets
    and Benchmarks (2021).
    """
    file = obd_file(policy, campaign, path)
    expected = ", ".join(OBD_COLUMNS) + ", user-item_affinity_0..N-1"
    with file.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        index = {name: i for i, name in enumerate(header)}
        missing = [c for c in OBD_COLUMNS if c not in index]
        affinity_columns = sorted(
            (int(name.rsplit("_", 1)[1]), i)
            for name, i in index.items()
            if name.startswith("user-item_affinity_")
        )
        if missing or not affinity_columns:
            raise ConfigError(
                f"Open Bandit Dataset: {file} lacks the column(s) "
                f"{', '.join(missing) or 'user-item_affinity_*'}; expected the columns {expected}"
            )
        rows = []
        for row in reader:
            if max_rows is not None and len(rows) >= max_rows:
                break
            rows.append(row)
    if not rows:
        raise ConfigError(f"Open Bandit Dataset: {file} has a header but no rows")
    try:
        numeric = lambda name, dtype: np.array([r[index[name]] for r in rows], dtype)  # noqa: E731
        item = numeric("item_id", np.float64)
        position = numeric("position", np.float64)
        click = numeric("click", np.float32)
        propensity = numeric("propensity_score", np.float32)
        affinity = np.array([[float(r[i]) for _, i in affinity_columns] for r in rows], np.float32)
    except (ValueError, IndexError) as err:
        raise ConfigError(
            f"Open Bandit Dataset: {file}: a row does not parse ({err}); expected numbers in "
            "item_id, position, click, propensity_score and the affinities"
        ) from None
    num_items = len(affinity_columns)
    problems = []
    if np.any(item != np.round(item)) or item.min() < 0 or item.max() >= num_items:
        problems.append(f"item_id must be integers in [0, {num_items}) (one per affinity column)")
    if not np.all(np.isin(position, np.arange(1, OBD_NUM_POSITIONS + 1))):
        problems.append(f"position must be 1..{OBD_NUM_POSITIONS}")
    if not np.all(np.isin(click, (0.0, 1.0))):
        problems.append("click must be 0 or 1")
    if not np.all((propensity > 0) & (propensity <= 1)):
        problems.append("propensity_score must be in (0, 1]")
    if problems:
        raise ConfigError(f"Open Bandit Dataset: {file}: " + "; ".join(problems))
    vocabulary = []
    codes = np.zeros((len(rows), len(OBD_USER_FEATURES)), np.int32)
    for j, name in enumerate(OBD_USER_FEATURES):
        values = [r[index[name]] for r in rows]
        words = tuple(sorted(set(values)))
        lookup = {w: k for k, w in enumerate(words)}
        codes[:, j] = [lookup[v] for v in values]
        vocabulary.append(words)
    return OBDData(
        item=_read_only(item.astype(np.int32)),
        position=_read_only((position - 1).astype(np.int32)),
        click=_read_only(click),
        propensity=_read_only(propensity),
        user_codes=_read_only(codes),
        user_vocabulary=tuple(vocabulary),
        affinity=_read_only(affinity),
        num_items=num_items,
        policy=policy,
        campaign=campaign,
        source=str(file),
    )


def obd_contexts(data: OBDData, include_position: bool = True) -> np.ndarray:
    """``(n, d)`` float32 context features of an OBD log: the one-hot codes of the four user
    features, then (optionally) the one-hot position (``d = sum of vocabulary sizes + 3``)."""
    blocks = []
    for j, words in enumerate(data.user_vocabulary):
        blocks.append(np.eye(len(words), dtype=np.float32)[data.user_codes[:, j]])
    if include_position:
        blocks.append(np.eye(OBD_NUM_POSITIONS, dtype=np.float32)[data.position])
    return np.concatenate(blocks, axis=1)


# --------------------------------------------------------------------------------------
# MovieLens 100K
# --------------------------------------------------------------------------------------

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
        user=_read_only((table[:, 0] - 1).astype(np.int32)),
        item=_read_only((table[:, 1] - 1).astype(np.int32)),
        rating=_read_only(table[:, 2].astype(np.float32)),
        timestamp=_read_only(table[:, 3].copy()),
        num_users=num_users,
        num_items=num_items,
        titles=tuple(np.array(titles, dtype=object)[np.argsort(items)]),
        genres=_read_only(np.array(genres, np.int8)[np.argsort(items)]),
        user_age=_read_only(np.array(ages, np.int32)[order]),
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
        users=_read_only(users), items=_read_only(items), scale=scale, bias=bias
    )
    return RatingsUsers(env=env, params=params, factors=factors, threshold=threshold)


__all__ = [
    "BUNDLED",
    "CLASSIFICATION_DATASETS",
    "ClassificationData",
    "Factors",
    "OBDData",
    "Ratings",
    "RatingsUsers",
    "blobs",
    "classification_from_arrays",
    "factorise_ratings",
    "load_classification",
    "load_movielens",
    "load_obd",
    "obd_available",
    "obd_contexts",
    "obd_file",
    "obd_sample_dir",
    "sklearn_data_dir",
    "standardise",
    "users_from_ratings",
]
