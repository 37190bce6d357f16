"""Classification datasets for the classification bandit: bundled, generated or your own.

``iris``, ``wine``, ``breast_cancer`` and ``digits`` are CSV files that ship inside the
scikit-learn package (``sklearn/datasets/data``): :func:`load_classification` reads them
directly, without importing scikit-learn (install it with ``pip install 'driftsim[data]'``
or ``pip install scikit-learn``).  ``blobs`` is a synthetic Gaussian mixture generated here
(no dependency), and :func:`classification_from_arrays` takes any arrays you have.  Plain
numpy, read once per process, returned as read-only arrays.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from simulator.datasets.files import cached, read_only, read_text
from simulator.params import ConfigError


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
    return ClassificationData(read_only(x), read_only(y), k, name)


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


@cached
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
        lines = read_text(path).strip().splitlines()
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
