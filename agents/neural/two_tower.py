"""A two-tower embedding recommender trained online, with row-wise updates for large catalogs.

Model.  A user ``i`` with features ``x (d_u,)`` and an item ``n`` with features ``y (d_v,)``
are embedded in ``R^e`` by an id table plus a linear feature tower each::

    u(i, x) = E_user[i] + P_user^T x           (e,)
    v(n, y) = E_item[n, :e] + P_item^T y        (e,),   b_n = E_item[n, e]  (item bias)
    s(i, x; n, y) = u . v + b_n + c                                    (predicted reward)

``E_user (U, e)`` and ``E_item (N, e + 1)`` are the agent's own tables (its state, one copy
per run); the dense tower ``(P_user, P_item, c)`` is small.  Without ids (``num_users = 0``
or ``num_items = 0``) that side is the feature tower alone, so the agent also runs on any
environment with user and item features (then it is a bilinear model ``x^T P_u P_v^T y``).

Ids.  The ids are read from ``context.user_id`` (``()`` int32) and ``context.item_ids``
(``(K,)`` int32, the catalog indices of the candidates), which environments with ids fill
(``drifting_users``); their ``EnvSpec.num_users`` / ``num_items`` give the table sizes, and
the experiment layer fills the factory's fields of the same names from them.  On an
environment without ids an experiment raises ConfigError naming ``num_users`` /
``num_items`` before compiling (set them to 0 to score by the features alone); a context
without ids raises ConfigError at trace time when ids are asked for.  The catalog's item
data stays in the environment: the agent sees only the ``K`` candidates' features and ids.

With informative features (``drifting_users``) keep the id rows a small residual on the
feature towers: ``init_scale`` and ``table_learning_rate`` about 0.01 (the presets
``neural-drift`` and ``two-tower-catalog`` do); the defaults (0.3) suit ids alone.

Training.  A ring buffer of ``(i, n, x, y, r)`` records; every ``train_every`` updates
``num_train_steps`` minibatch steps on ``(1/2|batch|) sum (s - r)^2``:

* table rows by **row-wise Adagrad** (``optax.scale_by_rss`` applied to the gathered rows,
  learning rate ``table_learning_rate``): the gradients of a minibatch are summed per
  distinct row (``G = S g`` with ``S_ij = 1[id_i = id_j]``), then only the touched rows and
  their accumulators are written back with ``.at[rows].set`` (duplicates write the same
  value).  Rows a step does not touch have a zero gradient, so this is *exactly* dense
  Adagrad on the whole table, at ``O(batch e)`` instead of ``O(N e)`` per step;
* the dense tower by the optax optimizer ``optimizer`` (traced ``learning_rate``).

Off-schedule steps are masked (zero gradient, the dense update discarded) rather than put
under ``lax.cond``: a ``cond`` whose predicate is batched by ``vmap`` would select between
two whole tables every step.  So the cost per step is the same on every step: one
minibatch (``num_train_steps * batch_size`` rows gathered and scattered), and act gathers
``K + 1`` rows; nothing is ``O(N)``.

Exploration (static ``exploration``):

* ``"epsilon"``: with probability ε a uniform candidate, else the best score (ties at
  random); ``action_probabilities`` is that distribution,
  ``epsilon / K + (1 - epsilon) 1[a in argmax s] / |argmax s|``;
* ``"thompson"``: a Thompson-style draw from a diagonal Laplace approximation whose
  precision is the Adagrad accumulator (the sum of squared gradients, an empirical Fisher):
  every parameter the scores read (the user row, the ``K`` candidate rows, the tower) is
  perturbed, ``theta~ = theta + nu eps / sqrt(lambda + sum g^2)``, ``eps ~ N(0, 1)``, and
  the best perturbed score is played.  A heuristic in the spirit of NeuralTS's diagonal
  ``Z``, not an exact posterior.

Memory per run: ``2 (U e + N (e + 1))`` floats for the tables and their accumulators, plus
the buffer.  Measured on this 2-core CPU (``drifting_users``, U = 100, K = 10, d = e = 8,
2000-step chunks of ``make_run``'s scan under ``jit(vmap)``; marginal steps/s over all runs;
peak RSS of the process, environment catalog per run included)::

    catalog N    runs   agent MB/run   steps/s   peak RSS
    100,000        1         6.9        16,000    0.5 GiB
    100,000       16         6.9        28,000    0.7 GiB
    100,000       64         6.9        43,000    1.7 GiB
    1,000,000      1        69          17,000    0.7 GiB
    1,000,000     16        69          54,000    3.5 GiB
    10,000,000     1       687          22,000    2.4 GiB

The cost of a step does not grow with ``N`` (row gathers and scatters only); what grows is
memory, ``~ 100 N`` bytes per run (tables, accumulators and the environment's own per-run
catalog), and a per-call copy of the carry unless the chunk program donates it.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

from agents.common import epsilon_mix, greedy_probabilities, random_argmax
from agents.neural import replay
from agents.neural.networks import check_positive_int
from agents.optimizers import resolve_optimizer
from agents.types import Agent, Needs
from simulator import pytree
from simulator.params import ConfigError, knob
from simulator.sampling import split_keys
from simulator.types import Context, require

Array = jax.Array

EXPLORATIONS = ("epsilon", "thompson")
INITIAL_ACCUMULATOR = 0.1  # optax.adagrad's default initial_accumulator_value
ADAGRAD_EPS = 1e-7


@pytree.dataclass
class TwoTowerHParams:
    learning_rate: float = knob(1e-2, low=0.0, low_open=True, doc="dense tower learning rate")
    table_learning_rate: float = knob(
        0.3, low=0.0, low_open=True, doc="row-wise Adagrad learning rate of the id tables"
    )
    epsilon: float = knob(0.05, low=0.0, high=1.0, doc="probability of a uniform candidate")
    nu: float = knob(0.1, low=0.0, doc="Thompson scale: perturbation nu / sqrt(lambda + sum g^2)")
    ridge: float = knob(1.0, low=0.0, low_open=True, doc="lambda, the Thompson prior precision")
    init_scale: float = knob(0.3, low=0.0, doc="std of the initial table rows")


class Tower(pytree.PyTreeNode):
    """The dense feature towers: ``user (d_u, e)``, ``item (d_v, e)``, ``bias ()``."""

    user: Array
    item: Array
    bias: Array


class TowerSample(pytree.PyTreeNode):
    """A replay record: ids, features of the chosen candidate, reward."""

    user: Array
    item: Array
    user_features: Array
    item_features: Array
    reward: Array


class TwoTowerState(pytree.PyTreeNode):
    """State of the two-tower agent.

    Attributes:
      user_table: ``(U, e)`` user embeddings (``(0, e)`` without user ids).
      item_table: ``(N, e + 1)`` item embeddings and biases (``(0, e + 1)`` without ids).
      user_sq, item_sq: the tables' Adagrad accumulators (same shapes).
      tower: the dense :class:`Tower`.
      tower_sq: accumulated squared gradients of the tower (Thompson precision).
      opt_state: optax state of the tower.
      buffer: replay of :class:`TowerSample` records.
      count: ``()`` int32 number of updates so far.
    """

    user_table: Array
    item_table: Array
    user_sq: Array
    item_sq: Array
    tower: Tower
    tower_sq: Tower
    opt_state: Any
    buffer: replay.Replay
    count: Array


def _ids(context: Context, field: str, shape: tuple[int, ...], needed: bool, what: str) -> Array:
    if not needed:
        return jnp.zeros(shape, jnp.int32)
    value = getattr(context, field, None)
    if value is None:
        raise ConfigError(
            f"agent.{what} > 0: two_tower needs the environment's context.{field} (the "
            f"{'user id' if field == 'user_id' else 'candidate ids'}), which this environment "
            f"does not provide; set agent.{what} = 0 to use features only"
        )
    value = jnp.asarray(value)
    if value.shape != shape:
        raise ConfigError(f"context.{field} has shape {value.shape}: must be {shape} (two_tower)")
    return value.astype(jnp.int32)


def scores(
    tower: Tower,
    user_row: Array,
    item_rows: Array,
    user_features: Array,
    item_features: Array,
) -> Array:
    """``(K,)`` ``u . v_k + b_k + c`` for one user and ``K`` items.

    Args:
      tower: the dense towers.
      user_row: ``(e,)`` table row of the user (zeros without ids).
      item_rows: ``(K, e + 1)`` table rows of the items (zeros without ids).
      user_features: ``(d_u,)``.
      item_features: ``(K, d_v)``.
    """
    embed_dim = user_row.shape[0]
    u = user_row + user_features @ tower.user
    v = item_rows[:, :embed_dim] + item_features @ tower.item
    return v @ u + item_rows[:, embed_dim] + tower.bias


def _combine_duplicates(ids: Array, grads: Array) -> Array:
    """Sum the gradients of records sharing an id: ``(S g)_i = sum_j 1[id_j = id_i] g_j``."""
    same = (ids[:, None] == ids[None, :]).astype(grads.dtype)
    return same @ grads


def adagrad_rows(table: Array, accumulator: Array, ids: Array, grads: Array, learning_rate):
    """Row-wise Adagrad: update only the rows ``ids`` of ``table`` and ``accumulator``.

    Equal to dense Adagrad (``optax.adagrad`` with the accumulator as its state) on the
    full-table gradient whose row ``r`` is ``sum_{j: ids_j = r} grads_j``.

    Args:
      table, accumulator: ``(N, w)``.
      ids: ``(B,)`` int32 rows touched (duplicates allowed).
      grads: ``(B, w)`` gradient of each record with respect to its row.
      learning_rate: step size.

    Returns:
      ``(table, accumulator)`` with only the rows ``ids`` rewritten.
    """
    total = _combine_duplicates(ids, grads)
    rss = optax.scale_by_rss(initial_accumulator_value=0.0, eps=ADAGRAD_EPS)
    scaled, state = rss.update(total, optax.ScaleByRssState(sum_of_squares=accumulator[ids]))
    rows = table[ids] - learning_rate * scaled
    return table.at[ids].set(rows), accumulator.at[ids].set(state.sum_of_squares)


def two_tower(
    num_arms: int = 10,
    context_dim: int = 8,
    arm_dim: int = 8,
    num_users: int = 0,
    num_items: int = 0,
    embed_dim: int = 16,
    exploration: str = "epsilon",
    optimizer: str = "adam",
    buffer_size: int = 512,
    batch_size: int = 32,
    train_every: int = 1,
    num_train_steps: int = 1,
) -> Agent:
    """Two-tower recommender: id embeddings plus feature towers, dot-product scores.

    See the module docstring for the model, the row-wise training and the exploration.

    Args:
      num_arms: K candidates per round.
      context_dim: d_u, length of ``context.features`` (the user's features).
      arm_dim: d_v, of ``context.arm_features (K, d_v)`` (the candidates' features).
      num_users: U rows of the user table (0: no user ids, feature tower only).
      num_items: N rows of the item table, the catalog size (0: no item ids).
      embed_dim: e.
      exploration: ``"epsilon"`` or ``"thompson"``.
      optimizer: optimizer of the dense tower, named as in :mod:`agents.optimizers`.
      buffer_size: replay capacity.
      batch_size: minibatch size.
      train_every: B, train every B updates (off-schedule steps are masked).
      num_train_steps: minibatch steps per training event.

    Returns:
      An :class:`~agents.types.Agent` whose state is a :class:`TwoTowerState`; knobs
      ``learning_rate``, ``table_learning_rate``, ``epsilon``, ``nu``, ``ridge``,
      ``init_scale``.  Its ``needs``: the id spaces it embeds, the feature widths it reads,
      and the features of a side without ids (user features without user ids, item
      features without item ids).  With no ids at all both sides need features, which
      ``needs`` cannot say in one word: that configuration is checked here instead
      (ConfigError unless ``context_dim >= 1`` and ``arm_dim >= 1``).

    Example::

        agent = two_tower(num_arms=10, context_dim=8, arm_dim=8, num_users=1000,
                          num_items=100_000, embed_dim=16, exploration="thompson")

    References: the two-tower (dual encoder) retrieval model, Yi et al., "Sampling-bias-
    corrected neural modeling for large corpus item recommendations", RecSys 2019; matrix
    factorisation, Koren, Bell & Volinsky (2009); Adagrad, Duchi, Hazan & Singer (2011).
    """
    name = "two_tower"
    check_positive_int(name, "num_arms", num_arms)
    for field, value in (
        ("context_dim", context_dim),
        ("arm_dim", arm_dim),
        ("num_users", num_users),
        ("num_items", num_items),
    ):
        require(
            isinstance(value, int) and not isinstance(value, bool) and value >= 0,
            f"agent.{field} = {value!r}: must be an integer >= 0 (two_tower)",
        )
    use_users, use_items = num_users > 0, num_items > 0
    if not (use_users or use_items):  # a feature-only model needs both feature blocks
        require(
            context_dim >= 1,
            f"agent.num_users = {num_users} and agent.context_dim = {context_dim}: two_tower "
            "needs user ids or user features",
        )
        require(
            arm_dim >= 1,
            f"agent.num_items = {num_items} and agent.arm_dim = {arm_dim}: two_tower needs "
            "item ids or item features",
        )
    require(
        exploration in EXPLORATIONS,
        f"agent.exploration = {exploration!r}: unknown; allowed: {', '.join(EXPLORATIONS)}",
    )
    optimizer_spec = resolve_optimizer(optimizer)
    sizes = {
        "embed_dim": embed_dim,
        "buffer_size": buffer_size,
        "batch_size": batch_size,
        "train_every": train_every,
        "num_train_steps": num_train_steps,
    }
    for field in sizes:
        check_positive_int(name, field, sizes[field])
    e = embed_dim

    def init(key, hparams):
        key_users, key_items, key_pu, key_pv = split_keys(key, 4)
        scale = hparams.init_scale
        user_table = scale * jax.random.normal(key_users, (num_users, e), jnp.float32)
        item_table = scale * jax.random.normal(key_items, (num_items, e + 1), jnp.float32)
        item_table = item_table.at[:, e].set(0.0)
        tower = Tower(
            user=jax.random.normal(key_pu, (context_dim, e), jnp.float32)
            / jnp.sqrt(max(context_dim, 1) * e),
            item=jax.random.normal(key_pv, (arm_dim, e), jnp.float32)
            / jnp.sqrt(max(arm_dim, 1) * e),
            bias=jnp.zeros((), jnp.float32),
        )
        example = TowerSample(
            user=jnp.zeros((), jnp.int32),
            item=jnp.zeros((), jnp.int32),
            user_features=jnp.zeros((context_dim,), jnp.float32),
            item_features=jnp.zeros((arm_dim,), jnp.float32),
            reward=jnp.zeros((), jnp.float32),
        )
        return TwoTowerState(
            user_table=user_table,
            item_table=item_table,
            user_sq=jnp.full((num_users, e), INITIAL_ACCUMULATOR, jnp.float32),
            item_sq=jnp.full((num_items, e + 1), INITIAL_ACCUMULATOR, jnp.float32),
            tower=tower,
            tower_sq=jax.tree.map(jnp.zeros_like, tower),
            opt_state=optimizer_spec.build(hparams.learning_rate).init(tower),
            buffer=replay.init(example, buffer_size),
            count=jnp.zeros((), jnp.int32),
        )

    def read(context: Context):
        got = tuple(context.arm_features.shape)
        if got != (num_arms, arm_dim):
            raise ConfigError(
                f"agent.num_arms = {num_arms}, agent.arm_dim = {arm_dim}: do not match the "
                f"environment, whose context.arm_features has shape {got} (two_tower)"
            )
        if tuple(context.features.shape) != (context_dim,):
            raise ConfigError(
                f"agent.context_dim = {context_dim}: does not match the environment, whose "
                f"context.features has shape {tuple(context.features.shape)} (two_tower)"
            )
        user = _ids(context, "user_id", (), use_users, "num_users")
        items = _ids(context, "item_ids", (num_arms,), use_items, "num_items")
        features = jnp.asarray(context.features, jnp.float32)
        arm_features = jnp.asarray(context.arm_features, jnp.float32)
        return user, items, features, arm_features

    def rows(state, user, items):
        user_row = state.user_table[user] if use_users else jnp.zeros((e,), jnp.float32)
        if use_items:
            item_rows = state.item_table[items]
        else:
            item_rows = jnp.zeros(items.shape + (e + 1,), jnp.float32)
        return user_row, item_rows

    def action_probabilities(state, context, hparams):
        user, items, features, arm_features = read(context)
        user_row, item_rows = rows(state, user, items)
        values = scores(state.tower, user_row, item_rows, features, arm_features)
        return greedy_probabilities(values, hparams.epsilon)

    def sampled_values(key, state, context, hparams):
        """The predicted rewards ``act`` maximises (Thompson: of the perturbed towers)."""
        user, items, features, arm_features = read(context)
        user_row, item_rows = rows(state, user, items)
        key_noise, _, _ = split_keys(key, 3)
        tower = state.tower
        if exploration == "thompson":
            key_u, key_v, key_t = split_keys(key_noise, 3)

            def perturb(k, value, accumulated):
                eps = jax.random.normal(k, jnp.shape(value), jnp.float32)
                return value + hparams.nu * eps * jax.lax.rsqrt(hparams.ridge + accumulated)

            if use_users:
                user_row = perturb(key_u, user_row, state.user_sq[user])
            if use_items:
                item_rows = perturb(key_v, item_rows, state.item_sq[items])
            leaves, treedef = jax.tree.flatten(tower)
            keys = split_keys(key_t, len(leaves))
            sq = jax.tree.leaves(state.tower_sq)
            tower = jax.tree.unflatten(
                treedef, [perturb(k, x, s) for k, x, s in zip(keys, leaves, sq)]
            )
        return scores(tower, user_row, item_rows, features, arm_features)

    def act(key, state, context, hparams):
        _, key_tie, key_mix = split_keys(key, 3)
        best = random_argmax(key_tie, sampled_values(key, state, context, hparams))
        if exploration == "epsilon":
            return epsilon_mix(key_mix, best, num_arms, hparams.epsilon)
        return best

    def batch_loss(tower, user_rows, item_rows, batch, valid):
        def one(user_row, item_row, x, y):
            return scores(tower, user_row, item_row[None], x, y[None])[0]

        preds = jax.vmap(one)(user_rows, item_rows, batch.user_features, batch.item_features)
        errors = valid * (preds - batch.reward) ** 2
        return 0.5 * jnp.sum(errors) / jnp.maximum(jnp.sum(valid), 1.0)

    def train_step(state, key, gate, hparams):
        batch, valid = replay.sample(key, state.buffer, batch_size)
        user_rows, item_rows = jax.vmap(lambda u, n: rows(state, u, n[None]))(
            batch.user, batch.item
        )
        item_rows = item_rows[:, 0]
        grads = jax.grad(batch_loss, argnums=(0, 1, 2))(
            state.tower, user_rows, item_rows, batch, valid * gate
        )
        tower_grads, user_grads, item_grads = grads
        user_table, user_sq = state.user_table, state.user_sq
        if use_users:
            user_table, user_sq = adagrad_rows(
                user_table, user_sq, batch.user, user_grads, hparams.table_learning_rate
            )
        item_table, item_sq = state.item_table, state.item_sq
        if use_items:
            item_table, item_sq = adagrad_rows(
                item_table, item_sq, batch.item, item_grads, hparams.table_learning_rate
            )
        tx = optimizer_spec.build(hparams.learning_rate)
        updates, opt_state = tx.update(tower_grads, state.opt_state, state.tower)
        tower = optax.apply_updates(state.tower, updates)
        keep = gate > 0

        def pick(new, old):
            return jnp.where(keep, new, old)

        return state.replace(
            user_table=user_table,
            item_table=item_table,
            user_sq=user_sq,
            item_sq=item_sq,
            tower=jax.tree.map(pick, tower, state.tower),
            tower_sq=jax.tree.map(lambda s, g: s + g * g, state.tower_sq, tower_grads),
            opt_state=jax.tree.map(pick, opt_state, state.opt_state),
        )

    def update(key, state, transition, hparams):
        user, items, features, arm_features = read(transition.context)
        action = jnp.asarray(transition.action, jnp.int32)
        record = TowerSample(
            user=user,
            item=items[action],
            user_features=features,
            item_features=arm_features[action],
            reward=jnp.asarray(transition.reward, jnp.float32),
        )
        state = state.replace(buffer=replay.add(state.buffer, record), count=state.count + 1)
        gate = (jnp.mod(state.count, train_every) == 0).astype(jnp.float32)
        for key_step in split_keys(key, num_train_steps):
            state = train_step(state, key_step, gate, hparams)
        return state

    static = {
        "num_arms": num_arms,
        "context_dim": context_dim,
        "arm_dim": arm_dim,
        "num_users": num_users,
        "num_items": num_items,
        "embed_dim": embed_dim,
        "exploration": exploration,
        "optimizer": optimizer,
        "buffer_size": buffer_size,
        "batch_size": batch_size,
        "train_every": train_every,
        "num_train_steps": num_train_steps,
    }
    needs = Needs(
        num_arms=num_arms,
        context_dim=context_dim,
        arm_dim=arm_dim,
        features={(True, True): "none", (False, True): "context", (True, False): "arm"}.get(
            (use_users, use_items), "any"
        ),
        num_users=num_users,
        num_items=num_items,
    )
    return Agent(
        name,
        init,
        act,
        update,
        TwoTowerHParams,
        static,
        action_probabilities=action_probabilities if exploration == "epsilon" else None,
        needs=needs,
        scores=sampled_values,
    )
