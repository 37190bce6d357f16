"""Replay evaluation (Li, Chu, Langford & Wang 2011) of an agent over a uniform-random log.

An agent runs online over the log inside one ``lax.scan``; a row counts, and the agent
learns from it, only when the agent picks the logged action.  The accepted rows are
distributed as an online run of the agent, so the mean reward over them estimates its
online reward (CTR).  Only a uniform-random log has that property: :func:`make_replay`
refuses any other.

Reference: L. Li, W. Chu, J. Langford & X. Wang, "Unbiased offline evaluation of
contextual-bandit-based news article recommendation algorithms", WSDM 2011.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from agents.types import Agent, Transition
from experiments.offpolicy.logs import BanditLog
from experiments.runner import RESET_INDEX, split_run_key
from experiments.stats import normal_quantile, wilson_interval
from simulator.params import ConfigError
from simulator.sampling import split_keys
from simulator.types import make_oracle

Array = jax.Array


class ReplayLog(NamedTuple):
    """Per logged row: ``accepted`` (1 when the agent picked the logged action) and
    ``reward`` (the logged reward where accepted, else 0), float32 ``(n,)``."""

    accepted: Array
    reward: Array


class ReplayResult(NamedTuple):
    """What a replay returns: the agent's final state and the per-row :class:`ReplayLog`."""

    agent_state: Any
    log: ReplayLog


def make_replay(agent: Agent, tolerance: float = 1e-3):
    """A pure ``replay(key, log, hparams) -> ReplayResult`` (Li et al. 2011, Algorithm 2).

    For each row ``t`` of a uniform-random log, in order: the agent acts on the logged
    context; if its action equals the logged action ``a_t`` the row is accepted, the agent
    receives the logged reward and updates; otherwise the row is skipped and the agent's
    state is left exactly as it was.  One ``lax.scan`` over the rows; ``vmap`` it over keys
    (seeds) and hparams.  Keys: ``split_run_key(key).agent``, folded with the row index as
    in the runner.

    With a uniform logging policy over K arms the accepted rows are distributed as an
    online run of the agent of about ``n / K`` rounds (Li et al. 2011, Theorem 1); with any
    other policy they are not, so a log whose propensities are not all ``1 / K`` (relative
    ``tolerance``) is refused: a ConfigError (:func:`check_uniform`) when the log is a
    concrete array, and, under ``jit``/``vmap`` where its values are unknown in Python,
    ``accepted`` is NaN on every row (every estimate NaN, never a silently wrong number).
    """

    def replay(key, log: BanditLog, hparams):
        try:
            check_uniform(log, tolerance)  # concrete log: refuse before tracing anything
        except jax.errors.ConcretizationTypeError:
            pass
        except jax.errors.TracerArrayConversionError:
            pass
        keys = split_run_key(key)
        state = agent.init(jax.random.fold_in(keys.agent, RESET_INDEX), hparams)
        num_arms = log.context.arm_features.shape[-2]
        no_oracle = make_oracle(jnp.zeros((num_arms,), jnp.float32))
        uniform = jnp.all(jnp.abs(log.propensity * num_arms - 1.0) <= tolerance)

        def body(state, inputs):
            t, row = inputs
            key_act, key_update = split_keys(jax.random.fold_in(keys.agent, t))
            action = agent.act(key_act, state, row.context, hparams)
            accepted = action == row.action
            transition = Transition(
                context=row.context,
                action=row.action,
                reward=row.reward,
                label=jnp.asarray(jnp.nan, jnp.float32),
                oracle=no_oracle,
            )
            updated = agent.update(key_update, state, transition, hparams)
            state = jax.tree.map(lambda new, old: jnp.where(accepted, new, old), updated, state)
            out = ReplayLog(
                accepted=jnp.where(uniform, accepted.astype(jnp.float32), jnp.nan),
                reward=jnp.where(accepted, row.reward, 0.0).astype(jnp.float32),
            )
            return state, out

        n = log.action.shape[0]
        state, out = jax.lax.scan(body, state, (jnp.arange(n, dtype=jnp.int32), log))
        return ReplayResult(agent_state=state, log=out)

    return replay


class ReplayEstimate(NamedTuple):
    """The replay estimate of an agent's online reward (CTR) with its interval.

    Attributes:
      value: mean reward over the accepted rows (NaN if none).
      low, high: for clicks (every accepted reward 0 or 1) the Wilson score interval of
        the click rate (:func:`experiments.stats.wilson_interval`: inside [0, 1], and not
        empty when no click was accepted); otherwise ``value -/+ z sqrt(s^2 / N)``, ``s^2``
        the sample variance of the accepted rewards.
      num_accepted: N, the accepted rows; ``num_rows``: the rows of the log.
    """

    value: Array
    low: Array
    high: Array
    num_accepted: Array
    num_rows: Array


def replay_estimate(
    out: ReplayLog, level: float = 0.95, first: int | None = None
) -> ReplayEstimate:
    """Summarise a replay (any leading batch axes; rows on the last axis).

    ``first``: keep only the first ``first`` accepted rows (to compare with an online run
    of ``first`` rounds).
    """
    accepted = out.accepted
    if first is not None:
        accepted = accepted * (jnp.cumsum(accepted, axis=-1) <= first)
    count = jnp.sum(accepted, axis=-1)
    total = jnp.sum(accepted * out.reward, axis=-1)
    value = total / count
    second = jnp.sum(accepted * out.reward**2, axis=-1) / count
    variance = jnp.maximum(second - value**2, 0.0) * count / jnp.maximum(count - 1, 1)
    half = normal_quantile(0.5 + level / 2) * jnp.sqrt(variance / count)
    clicks = jnp.all((accepted == 0) | (out.reward == 0) | (out.reward == 1), axis=-1)
    wilson_low, wilson_high = wilson_interval(total, count, level)
    return ReplayEstimate(
        value=value,
        low=jnp.where(clicks, wilson_low, value - half),
        high=jnp.where(clicks, wilson_high, value + half),
        num_accepted=count,
        num_rows=jnp.full_like(count, accepted.shape[-1]),
    )


def check_uniform(log: BanditLog, tolerance: float = 1e-3) -> None:
    """ConfigError unless every propensity is ``1 / K`` (replay needs a uniform log)."""
    p = np.asarray(log.propensity)
    expected = 1.0 / log.num_arms
    if not np.allclose(p, expected, rtol=tolerance, atol=0.0):
        raise ConfigError(
            f"replay needs a uniform-random log (every propensity 1/K = {expected:.4g}); this "
            f"log has propensities in [{p.min():.3g}, {p.max():.3g}]: use the estimators "
            "(estimate) on it instead"
        )
