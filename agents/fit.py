"""Does an agent fit an environment?  Its :class:`~agents.types.Needs` against the
environment's :class:`~simulator.types.EnvSpec`, in plain Python (nothing compiles).

    problems = agents.fit.misfits(env.spec, agent)       # [] when the pair fits
    agents.fit.check_fits(env, agent, label="ts")         # ConfigError naming both sides

A need is something without which the agent's update is undefined (Beta counts need
rewards in [0, 1]; ``ogd`` needs a revealed label; shared LinUCB needs arm features).  An
assumption behind a regret bound is not a need: UCB on Gaussian rewards fits.
"""

from __future__ import annotations

from typing import Any

from agents.types import Agent, Needs
from simulator import capabilities
from simulator.params import ConfigError
from simulator.types import EnvSpec

_ACTION_WORDS = {
    capabilities.ARM: "one arm index",
    capabilities.SLATE: "a ranked slate of arms",
    capabilities.PREDICTION: "a real-valued prediction",
}


def _gives_features(spec: EnvSpec, which: str) -> bool:
    if which == "context":
        return spec.context_dim >= 1
    if which == "arm":
        return spec.arm_dim >= 1
    if which == "any":
        return spec.context_dim >= 1 or spec.arm_dim >= 1
    return True


def misfits(spec: EnvSpec, needs: Needs | Agent) -> list[str]:
    """Each unmet need as ``"needs X; the environment gives Y"`` (empty when it fits)."""
    if isinstance(needs, Agent):
        needs = needs.needs
    out = []
    if needs.action != spec.action:
        out.append(
            f"acts with {_ACTION_WORDS.get(needs.action, needs.action)}; the environment "
            f"expects {_ACTION_WORDS.get(spec.action, spec.action)}"
        )
    elif needs.action == capabilities.SLATE and needs.slate_size != spec.slate_size:
        out.append(
            f"ranks slates of {needs.slate_size} positions; the environment shows {spec.slate_size}"
        )
    if needs.num_arms and needs.num_arms != spec.num_arms:
        out.append(f"was built for {needs.num_arms} arms; the environment has {spec.num_arms}")
    if needs.feedback == capabilities.LABEL and spec.feedback != capabilities.LABEL:
        out.append(
            "needs a revealed label (full-information feedback); the environment gives "
            "only the reward of the action taken"
        )
    if needs.reward_range is not None:
        low, high = needs.reward_range
        if not spec.reward.within(low, high):
            wanted = (
                "click rewards in {0, 1}"
                if (low, high) == (0.0, 1.0)
                else f"rewards in [{low:g}, {high:g}]"
            )
            out.append(f"needs {wanted}; the environment gives {spec.reward.describe()}")
    if not _gives_features(spec, needs.features):
        wanted = {"context": "context features", "arm": "arm features"}.get(
            needs.features, "features (context or arm)"
        )
        out.append(
            f"needs {wanted}; the environment gives context_dim = {spec.context_dim}, "
            f"arm_dim = {spec.arm_dim}"
        )
    for field, what in (("context_dim", "context features"), ("arm_dim", "arm features")):
        wanted, given = getattr(needs, field), getattr(spec, field)
        if wanted and given and wanted != given:
            out.append(f"reads {what} of width {wanted}; the environment's {field} = {given}")
    for field, what in (("num_users", "user ids"), ("num_items", "item ids")):
        wanted, given = getattr(needs, field), getattr(spec, field)
        if wanted and wanted != given:
            gives = f"{field} = {given}" if given else f"no {what}"
            out.append(f"embeds {what} ({field} = {wanted}); the environment gives {gives}")
    return out


def check_fits(
    env: Any, agent: Agent, label: str | None = None, env_name: str | None = None, hint: str = ""
) -> None:
    """ConfigError naming the agent, the environment and the first missing capability, e.g.
    ``agents.ts: thompson needs click rewards in {0, 1}; regression_stream gives
    real-valued rewards (try ogd)``.

    Args:
      env: an environment or its :class:`EnvSpec`.
      agent: the built agent.
      label: the agent's label in an experiment (``agents.LABEL:`` prefixes the message).
      env_name: how to name the environment (default: its class name).
      hint: appended in parentheses (e.g. ``"try ogd"``).
    """
    spec = env if isinstance(env, EnvSpec) else env.spec
    problems = misfits(spec, agent)
    if not problems:
        return
    if env_name is None:
        env_name = "the environment" if isinstance(env, EnvSpec) else type(env).__name__
    prefix = f"agents.{label}: " if label else ""
    message = problems[0].replace("the environment", env_name, 1)
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    tail = f" ({hint})" if hint else ""
    raise ConfigError(f"{prefix}{agent.name} {message}{more}{tail}")
