"""Thompson sampling: Beta–Bernoulli and Gaussian with known noise (Thompson 1933)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from agents.common import check_num_arms, random_argmax
from agents.sampling import beta_argmax
from agents.types import Agent, Needs
from simulator import pytree
from simulator.params import knob
from simulator.sampling import split_keys


@pytree.dataclass
class ThompsonHParams:
    alpha0: float = knob(1.0, low=0.0, low_open=True, doc="prior Beta(alpha0, beta0) successes")
    beta0: float = knob(1.0, low=0.0, low_open=True, doc="prior Beta(alpha0, beta0) failures")


class BetaState(pytree.PyTreeNode):
    """Success and failure counts ``S, F`` ``(K,)`` float32 (fractional for rewards in (0, 1))."""

    successes: jax.Array
    failures: jax.Array


def thompson(num_arms: int = 10) -> Agent:
    """Beta–Bernoulli Thompson sampling: play the arm whose posterior draw is largest.

    Arm ``a`` has the posterior ``Beta(alpha0 + S_a, beta0 + F_a)``::

        theta_a ~ Beta(alpha0 + S_a, beta0 + F_a),    A_t = argmax_a theta_a
        S_A <- S_A + r,    F_A <- F_A + (1 - r)

    Rewards in ``[0, 1]`` count fractionally (``r = 0.3`` adds 0.3 success and 0.7
    failure), the deterministic choice: with Bernoulli rewards it is the exact conjugate
    update, the posterior mean stays ``(alpha0 + sum r) / (alpha0 + beta0 + N)`` and the
    state is reproducible from the rewards alone.  (Agrawal & Goyal (2012) instead flip a
    coin ``r~ ~ Bernoulli(r)`` and count that; both agree on Bernoulli rewards.)  Rewards
    are clipped to ``[0, 1]``: outside it the counts are no Beta posterior, so the agent
    needs rewards in ``[0, 1]`` (``needs.reward_range``).  The draws come from
    :func:`agents.sampling.beta_argmax`, exact in distribution and vectorised, which
    compares them without forming them.  The
    draws are continuous, so ties have probability zero; a float32 coincidence of two
    draws goes to the lower index.

    Args:
      num_arms: K.

    Example::

        agent = thompson(10)
        hp = agent.default_hparams().replace(alpha0=0.5, beta0=0.5)   # Jeffreys prior

    Reference: W. R. Thompson, "On the likelihood that one unknown probability exceeds
    another in view of the evidence of two samples", Biometrika 25, 1933; S. Agrawal &
    N. Goyal, "Analysis of Thompson sampling for the multi-armed bandit problem", COLT
    2012; O. Chapelle & L. Li, "An empirical evaluation of Thompson sampling", NIPS 2011.
    """
    check_num_arms(num_arms)

    def init(key, hparams):
        zeros = jnp.zeros((num_arms,), jnp.float32)
        return BetaState(successes=zeros, failures=zeros)

    def act(key, state, context, hparams):
        return beta_argmax(key, hparams.alpha0 + state.successes, hparams.beta0 + state.failures)

    def update(key, state, transition, hparams):
        reward = jnp.clip(transition.reward, 0.0, 1.0)
        chosen = jax.nn.one_hot(transition.action, num_arms, dtype=jnp.float32)
        return BetaState(
            successes=state.successes + reward * chosen,
            failures=state.failures + (1.0 - reward) * chosen,
        )

    return Agent(
        "thompson",
        init,
        act,
        update,
        ThompsonHParams,
        {"num_arms": num_arms},
        needs=Needs(num_arms=num_arms, reward_range=(0.0, 1.0)),
    )


@pytree.dataclass
class GaussianThompsonHParams:
    noise: float = knob(
        1.0, low=0.0, low_open=True, doc="sigma, the known reward noise standard deviation"
    )
    prior_mean: float = knob(0.0, doc="mu0, the prior mean of every arm")
    prior_std: float = knob(1.0, low=0.0, low_open=True, doc="sigma0, the prior standard deviation")


class GaussianPosteriorState(pytree.PyTreeNode):
    """Posterior means ``mu (K,)`` and precisions ``lambda (K,)`` of the arm means, float32."""

    means: jax.Array
    precisions: jax.Array


def gaussian_thompson(num_arms: int = 10) -> Agent:
    """Gaussian Thompson sampling: conjugate normal posterior per arm, known noise.

    Model: ``mu_a ~ N(mu0, sigma0^2)``, rewards ``r ~ N(mu_a, sigma^2)`` with ``sigma`` the
    ``noise`` knob (a standard deviation, like the environments' ``noise``).  The posterior
    of ``mu_a`` is ``N(m_a, 1/lambda_a)``, updated one reward at a time::

        lambda_a <- lambda_a + 1/sigma^2,    m_a <- m_a + (r - m_a) / (sigma^2 lambda_a)

    from ``lambda_a = 1/sigma0^2``, ``m_a = mu0``; after ``n`` rewards with sum ``s`` this
    is the batch posterior ``lambda = 1/sigma0^2 + n/sigma^2``,
    ``m = (mu0/sigma0^2 + s/sigma^2) / lambda``.  Act: ``theta_a = m_a + z_a / sqrt(lambda_a)``
    with ``z ~ N(0, I)``, ``A_t = argmax_a theta_a`` (ties at random).

    Args:
      num_arms: K.

    Example::

        agent = gaussian_thompson(10)
        hp = agent.default_hparams().replace(noise=1.0, prior_std=1.0)   # the testbed

    Reference: S. Agrawal & N. Goyal, "Further optimal regret bounds for Thompson
    sampling", AISTATS 2013 (Gaussian priors); Russo et al., "A tutorial on Thompson
    sampling", Foundations and Trends in Machine Learning 11(1), 2018.
    """
    check_num_arms(num_arms)

    def init(key, hparams):
        ones = jnp.ones((num_arms,), jnp.float32)
        return GaussianPosteriorState(
            means=hparams.prior_mean * ones,
            precisions=ones / jnp.square(hparams.prior_std),
        )

    def act(key, state, context, hparams):
        key_sample, key_tie = split_keys(key)
        z = jax.random.normal(key_sample, (num_arms,), jnp.float32)
        theta = state.means + z * jax.lax.rsqrt(state.precisions)
        return random_argmax(key_tie, theta)

    def update(key, state, transition, hparams):
        a = transition.action
        noise_precision = 1.0 / jnp.square(hparams.noise)
        precision = state.precisions[a] + noise_precision
        mean = state.means[a] + (transition.reward - state.means[a]) * noise_precision / precision
        return GaussianPosteriorState(
            means=state.means.at[a].set(mean.astype(jnp.float32)),
            precisions=state.precisions.at[a].set(precision.astype(jnp.float32)),
        )

    return Agent(
        "gaussian_thompson",
        init,
        act,
        update,
        GaussianThompsonHParams,
        {"num_arms": num_arms},
        needs=Needs(num_arms=num_arms),
    )
