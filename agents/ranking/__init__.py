"""Learning to rank online: agents that show a ranked slate of ``k`` arms and learn from
per-position clicks (cascading bandits, ranked bandits), and the ``top_k`` wrapper that
makes any scoring agent a ranker.  They act on slate environments
(``simulator.make("cascade")``)."""

from agents.ranking.cascade_linucb import cascade_linucb
from agents.ranking.cascade_nonstationary import cascade_ducb, cascade_swucb
from agents.ranking.cascade_ts import cascade_lints, cascade_ts
from agents.ranking.cascade_ucb import cascade_kl_ucb, cascade_ucb1
from agents.ranking.pbm_ucb import pbm_ucb
from agents.ranking.ranked_bandits import random_slate, ranked_kl_ucb
from agents.ranking.top_k import with_top_k
from simulator.registry import Registry


def register_all(registry: Registry) -> None:
    """Register the rankers."""
    registry.register("cascade_ucb1", cascade_ucb1, example_env="cascade")
    registry.register("cascade_kl_ucb", cascade_kl_ucb, example_env="cascade")
    registry.register("cascade_ducb", cascade_ducb, example_env="cascade")
    registry.register("cascade_swucb", cascade_swucb, example_env="cascade")
    registry.register("cascade_ts", cascade_ts, example_env="cascade")
    registry.register("pbm_ucb", pbm_ucb, example_env=("cascade", {"click_model": "pbm"}))
    registry.register("ranked_kl_ucb", ranked_kl_ucb, example_env="cascade")
    registry.register("random_slate", random_slate, example_env="cascade")
    registry.register("cascade_linucb", cascade_linucb, example_env=("cascade", {"arm_dim": 4}))
    registry.register("cascade_lints", cascade_lints, example_env=("cascade", {"arm_dim": 4}))


__all__ = [
    "cascade_ducb",
    "cascade_kl_ucb",
    "cascade_linucb",
    "cascade_lints",
    "cascade_swucb",
    "cascade_ts",
    "cascade_ucb1",
    "pbm_ucb",
    "random_slate",
    "ranked_kl_ucb",
    "register_all",
    "with_top_k",
]
