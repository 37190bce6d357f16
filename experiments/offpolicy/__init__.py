"""Logged data and off-policy evaluation, one idea per module.

* :mod:`~experiments.offpolicy.logs`: :class:`BanditLog`, recorded from any driftsim run
  through :func:`experiments.runner.make_run` (:func:`make_recorder`) or read from arrays;
* :mod:`~experiments.offpolicy.propensities`: the logging and target policies'
  probabilities, exact where the agent gives them, else Monte Carlo with draws independent
  of the logged one;
* :mod:`~experiments.offpolicy.reward_model`: the ridge reward model of DM and DR;
* :mod:`~experiments.offpolicy.estimators`: IPS, SNIPS, DM, DR with intervals;
* :mod:`~experiments.offpolicy.replay`: replay evaluation over a uniform-random log;
* :mod:`~experiments.offpolicy.obd`: the Open Bandit Dataset as logs;
* :mod:`~experiments.offpolicy.experiment` and :mod:`~experiments.offpolicy.summary`:
  ``kind = "replay"`` / ``"ope"`` experiments, run by :func:`experiments.run` like any other
  and returned and saved as :class:`~experiments.results.Results`.

Example::

    record = make_recorder(env, agents.make("epsilon_greedy", num_arms=4), 1000)
    log = jax.jit(record)(jax.random.key(0), env.default_params(), hparams)
    est = estimate(jax.random.key(1), log, target)          # est.dr.value, est.dr.low, ...

References: L. Li, W. Chu, J. Langford & X. Wang, "Unbiased offline evaluation of
contextual-bandit-based news article recommendation algorithms", WSDM 2011; M. Dudík,
J. Langford & L. Li, "Doubly robust policy evaluation and learning", ICML 2011;
A. Swaminathan & T. Joachims, "The self-normalized estimator for counterfactual learning",
NeurIPS 2015; Y. Saito et al., "Open Bandit Dataset and Pipeline", NeurIPS 2021.
"""

from experiments.offpolicy.estimators import (
    ESTIMATORS,
    Estimate,
    Estimates,
    bootstrap_counts,
    direct_method,
    doubly_robust,
    estimate,
    importance_weights,
    ips,
    snips,
)
from experiments.offpolicy.logs import BanditLog, log_from_arrays, make_recorder, rows, train
from experiments.offpolicy.obd import (
    OBDData,
    empirical_policy,
    few_clicks_note,
    load_obd,
    obd_available,
    obd_contexts,
    obd_log,
)
from experiments.offpolicy.propensities import (
    Behaviour,
    behaviour,
    exact_probabilities,
    policy_value,
    target_probabilities,
)
from experiments.offpolicy.replay import (
    ReplayEstimate,
    ReplayLog,
    ReplayResult,
    check_uniform,
    make_replay,
    replay_estimate,
)
from experiments.offpolicy.reward_model import (
    RewardPredictions,
    RidgeModel,
    fit_reward_model,
    fit_ridge,
    predict_ridge,
)

__all__ = [
    "ESTIMATORS",
    "BanditLog",
    "Behaviour",
    "Estimate",
    "Estimates",
    "OBDData",
    "ReplayEstimate",
    "ReplayLog",
    "ReplayResult",
    "RewardPredictions",
    "RidgeModel",
    "behaviour",
    "bootstrap_counts",
    "check_uniform",
    "direct_method",
    "doubly_robust",
    "empirical_policy",
    "estimate",
    "exact_probabilities",
    "few_clicks_note",
    "fit_reward_model",
    "fit_ridge",
    "importance_weights",
    "ips",
    "load_obd",
    "log_from_arrays",
    "make_recorder",
    "make_replay",
    "obd_available",
    "obd_contexts",
    "obd_log",
    "policy_value",
    "predict_ridge",
    "replay_estimate",
    "rows",
    "snips",
    "target_probabilities",
    "train",
]
