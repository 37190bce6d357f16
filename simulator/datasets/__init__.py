"""Real data for driftsim: classification datasets and MovieLens ratings.

Everything here is plain numpy, read once in Python (never inside a compiled loop), and
returned as read-only arrays that environments hold in a ``data_field`` of their params, so
every sweep point and seed shares one copy.  Nothing is ever downloaded:

* :mod:`simulator.datasets.classification`: the classification sets bundled with
  scikit-learn (read without importing it), generated ``blobs``, or your arrays;
* :mod:`simulator.datasets.movielens`: MovieLens 100K from a folder you give.

(The Open Bandit Dataset, a source of logged data, is :mod:`experiments.offpolicy.obd`.)
Every missing file, missing package or unexpected layout raises :class:`ConfigError` saying
what was expected, where it looked and how to install it.
"""

from simulator.datasets.classification import (
    BUNDLED,
    CLASSIFICATION_DATASETS,
    SKLEARN_HINT,
    ClassificationData,
    DatasetInfo,
    blobs,
    classification_from_arrays,
    load_classification,
    sklearn_data_dir,
    standardise,
)
from simulator.datasets.movielens import (
    Factors,
    Ratings,
    RatingsUsers,
    factorise_ratings,
    load_movielens,
    users_from_ratings,
)

__all__ = [
    "BUNDLED",
    "CLASSIFICATION_DATASETS",
    "SKLEARN_HINT",
    "ClassificationData",
    "DatasetInfo",
    "Factors",
    "Ratings",
    "RatingsUsers",
    "blobs",
    "classification_from_arrays",
    "factorise_ratings",
    "load_classification",
    "load_movielens",
    "sklearn_data_dir",
    "standardise",
    "users_from_ratings",
]
