"""ε-greedy and softmax exploration over a linear reward model learned online with optax.

The reward model is :class:`agents.linear_model.OnlineLinear`, the very model (and
optimizer code) of the ``ogd`` learner: one implementation, trained here on the bandit's
rewards instead of a stream's labels.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from agents.common import (
    check_num_arms,
    epsilon_mix,
    greedy_probabilities,
    random_argmax,
    softmax_probabilities,
)
from agents.knobs import KnobSpec, hparams_class
from agents.linear_model import online_linear
from agents.types import Agent, Needs
from simulator.sampling import split_keys
from simulator.types import require

MODES = ("auto", "shared", "disjoint")
EXPLORATIONS = ("epsilon", "softmax")
_EXPLORATION_KNOBS = {
    "epsilon": KnobSpec("epsilon", 0.1, 0.0, 1.0, doc="probability of a uniform random arm"),
    "softmax": KnobSpec(
        "temperature", 0.1, 0.0, low_open=True, doc="softmax temperature over predicted rewards"
    ),
}


def linear_greedy(
    num_arms: int = 10,
    context_dim: int = 0,
    arm_dim: int = 0,
    mode: str = "auto",
    exploration: str = "epsilon",
    loss: str = "squared",
    optimizer="sgd",
    schedule="constant",
) -> Agent:
    """ε-greedy or softmax over a linear (or logistic) reward model trained by online GD.

    Reward model (``theta = (w, b)`` trained by :class:`~agents.linear_model.OnlineLinear`
    on the observed rewards, loss ``squared`` or ``logistic``; ``sigma`` is the sigmoid
    for the logistic loss, the identity otherwise):

    * shared: one model over each candidate's features,
      ``r_hat(a) = sigma(w·z_a + b)`` with ``z_a = Context.arm_features[a]`` (``arm_dim``);
    * disjoint: one model per arm over the shared context,
      ``r_hat(a) = sigma(w_a·x + b_a)`` with ``x = Context.features`` (``context_dim``);
      with no features at all it is a per-arm value estimate (``b_a``) learned by the
      optimizer, so the agent runs on every bandit environment.

    Act: ``exploration="epsilon"``: with probability ε a uniform arm, else
    ``argmax_a r_hat(a)`` (ties at random); ``"softmax"``: ``P(a) ∝ exp(r_hat(a) / T)``.
    ``action_probabilities`` is that distribution, exactly (``epsilon / K + (1 - epsilon)
    1[a in argmax] / |argmax|``, or the softmax).
    Update: one optimizer step of the chosen arm's example ``(z_a or x, r)`` (in disjoint
    mode only arm ``a``'s model and optimizer state move).  Optimism: a large knob
    ``initial_bias`` starts every prediction high (optimistic initial values).  The model
    always has its intercept ``b`` (what ``intercept=True`` adds to the other linear
    agents), so there is no ``intercept`` option.

    Args:
      num_arms: K.
      context_dim: ``d`` of ``Context.features`` (disjoint mode).
      arm_dim: ``d`` of ``Context.arm_features`` (shared mode).
      mode: ``shared``, ``disjoint`` or ``auto`` (shared when ``arm_dim > 0``).
      exploration: ``epsilon`` (knob ``epsilon``) or ``softmax`` (knob ``temperature``).
      loss: ``squared`` or ``logistic`` (the log-likelihood of a Bernoulli reward: it needs
        rewards in [0, 1], declared in ``needs.reward_range``, and its ``estimate_link`` is
        ``"logit"``).
      optimizer, schedule: as for ``ogd`` (any optax optimizer; traced knobs).

    Returns:
      An :class:`~agents.types.Agent`.  In shared mode its ``estimate`` is the weight
      vector ``w (arm_dim,)`` (the bias ``b`` left out), the layout of ``true_param`` of
      ``contextual_linear`` (squared loss) and ``contextual_logistic`` (logistic loss: ``w``
      then estimates the logit parameter); ``estimate_link`` tells the runner which.
      Disjoint models have no estimate.  The shared model needs arm features (declared
      in ``needs``; built with ``arm_dim = 0`` it is refused by :func:`agents.fit.misfits`).

    Example::

        agent = linear_greedy(num_arms=20, arm_dim=8, exploration="softmax", optimizer="adam")
        hp = agent.default_hparams().replace(temperature=0.05, learning_rate=0.05)

    References: Sutton & Barto (2018), §2.2–2.3 (ε-greedy) and §2.8 (softmax / Gibbs);
    Langford & Zhang (2008), epoch-greedy contextual bandits; Li et al. (2010), disjoint and
    shared linear models for news recommendation.
    """
    check_num_arms(num_arms)
    require(mode in MODES, f"agent.mode = {mode!r}: allowed: {', '.join(MODES)}")
    require(
        exploration in EXPLORATIONS,
        f"agent.exploration = {exploration!r}: allowed: {', '.join(EXPLORATIONS)}",
    )
    require(
        loss in ("squared", "logistic"),
        f"agent.loss = {loss!r}: allowed: squared, logistic (a reward model)",
    )
    for name, value in (("context_dim", context_dim), ("arm_dim", arm_dim)):
        require(
            isinstance(value, int) and not isinstance(value, bool) and value >= 0,
            f"agent.{name} = {value!r}: must be an integer >= 0",
        )
    shared = mode == "shared" or (mode == "auto" and arm_dim > 0)
    model = online_linear(
        arm_dim if shared else context_dim, optimizer=optimizer, schedule=schedule, loss=loss
    )
    hparams_type = hparams_class(
        "LinearGreedyHParams", model.knob_specs() + (_EXPLORATION_KNOBS[exploration],)
    )

    def init(key, hparams):
        if shared:
            return model.init(hparams)
        return jax.vmap(lambda _: model.init(hparams))(jnp.arange(num_arms))

    def predicted_rewards(state, context):
        if shared:
            return jax.vmap(model.predict_mean, in_axes=(None, 0))(
                state.params, context.arm_features
            )
        return jax.vmap(model.predict_mean, in_axes=(0, None))(state.params, context.features)

    def act(key, state, context, hparams):
        values = predicted_rewards(state, context)
        key_tie, key_explore = split_keys(key)
        if exploration == "softmax":
            return jax.random.categorical(key_explore, values / hparams.temperature).astype(
                jnp.int32
            )
        greedy = random_argmax(key_tie, values)
        return epsilon_mix(key_explore, greedy, num_arms, hparams.epsilon)

    def action_probabilities(state, context, hparams):
        values = predicted_rewards(state, context)
        if exploration == "softmax":
            return softmax_probabilities(values, hparams.temperature)
        return greedy_probabilities(values, hparams.epsilon)

    def update(key, state, transition, hparams):
        arm = transition.action
        reward = transition.reward
        if shared:
            features = transition.context.arm_features[arm]
            return model.update(key, state, features, reward, hparams)
        arm_state = jax.tree.map(lambda leaf: leaf[arm], state)
        new = model.update(key, arm_state, transition.context.features, reward, hparams)
        return jax.tree.map(lambda leaf, value: leaf.at[arm].set(value), state, new)

    static = {
        "num_arms": num_arms,
        "context_dim": context_dim,
        "arm_dim": arm_dim,
        "mode": "shared" if shared else "disjoint",
        "exploration": exploration,
        "loss": loss,
        "optimizer": model.optimizer.name,
        "schedule": model.schedule.name,
    }
    needs = Needs(
        num_arms=num_arms,
        reward_range=(0.0, 1.0) if loss == "logistic" else None,
        context_dim=0 if shared else context_dim,
        arm_dim=arm_dim if shared else 0,
        features="arm" if shared else "none",
    )
    return Agent(
        "linear_greedy",
        init,
        act,
        update,
        hparams_type,
        static,
        estimate=(lambda state: state.params.weights) if shared else None,
        action_probabilities=action_probabilities,
        needs=needs,
        estimate_link="logit" if loss == "logistic" else "identity",
    )
