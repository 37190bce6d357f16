"""The Open Bandit Dataset (Saito, Aihara, Matsutani & Narita 2021; ZOZOTOWN) as logs.

The 10,000-row samples of the uniform-random (``random``) and Bernoulli Thompson sampling
(``bts``) logging policies for the campaigns ``all``, ``men`` and ``women`` ship inside the
``obp`` package (``pip install --no-deps obp==0.4.1``; its files are found through
``importlib.metadata``, ``obp`` is never imported).  :func:`load_obd` reads them, or the
full-size dataset in the same layout from a folder you give; :func:`obd_log` turns one into
a :class:`~experiments.offpolicy.logs.BanditLog`.

Reference: Y. Saito, S. Aihara, M. Matsutani & Y. Narita, "Open Bandit Dataset and
Pipeline: Towards Realistic and Reproducible Off-Policy Evaluation", NeurIPS 2021.
"""

from __future__ import annotations

import csv
import importlib.metadata
from pathlib import Path
from typing import NamedTuple

import numpy as np

from experiments.offpolicy.logs import BanditLog, log_from_arrays
from experiments.schema import OBD_CAMPAIGNS, OBD_POLICIES
from simulator.datasets.files import cached, check_choice, read_only
from simulator.params import ConfigError

OBP_HINT = "install it with: pip install --no-deps obp==0.4.1  (Python 3.11; data files only)"
#: An Open Bandit Dataset log with fewer clicks than this gets the "demonstration, not a
#: verdict" caveat (its CTR interval is wider than about +/- 6 % of the CTR).
FEW_CLICKS = 1000

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


def obd_file(policy: str, campaign: str, path: str | Path | None = None) -> Path:
    """The CSV of a log: ``{folder}/{policy}/{campaign}/{campaign}.csv``."""
    check_choice("policy", policy, OBD_POLICIES)
    check_choice("campaign", campaign, OBD_CAMPAIGNS)
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


@cached
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
        item=read_only(item.astype(np.int32)),
        position=read_only((position - 1).astype(np.int32)),
        click=read_only(click),
        propensity=read_only(propensity),
        user_codes=read_only(codes),
        user_vocabulary=tuple(vocabulary),
        affinity=read_only(affinity),
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


def obd_log(data: OBDData, include_position: bool = True) -> BanditLog:
    """An Open Bandit Dataset log as a :class:`BanditLog`: the action is the item shown,
    the reward the click, the context the one-hot user features and (optionally) the one-hot
    position (:func:`obd_contexts`)."""
    return log_from_arrays(
        obd_contexts(data, include_position),
        data.item,
        data.click,
        data.propensity,
        data.num_items,
    )


def empirical_policy(data: OBDData) -> np.ndarray:
    """``(3, num_items)``: how often each item was shown at each position in a log.

    For the context-free Bernoulli TS of the Open Bandit Dataset, this time-averaged action
    distribution is a stationary policy whose value equals the log's on-policy CTR."""
    table = np.zeros((OBD_NUM_POSITIONS, data.num_items), np.float64)
    np.add.at(table, (data.position, data.item), 1.0)
    return (table / table.sum(axis=1, keepdims=True)).astype(np.float32)


def few_clicks_note(data: OBDData) -> str:
    """The caveat for an Open Bandit Dataset log with few clicks (empty when it has many)."""
    clicks = int(data.click.sum())
    if clicks >= FEW_CLICKS:
        return ""
    return (
        f"Caveat: the {data.policy} log ({data.campaign}) has only {clicks} clicks in "
        f"{data.num_rows:,} impressions, so these numbers are a demonstration of the "
        "pipeline, not a verdict."
    )
