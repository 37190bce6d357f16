"""The normalised-regret table (uniform = 100, Riquelme, Tucker & Snoek 2018) and its figure."""

from __future__ import annotations

import matplotlib.text
import numpy as np
import pytest

from experiments import figures, stats
from simulator.params import ConfigError
from tests.experiments.test_stats import FakeAgentResults, FakeResults

NUM_STEPS = 4
DELTAS = [0.5, 0.9]
T_975_2 = 4.303  # Student-t quantile, 2 degrees of freedom (three seeds)


def constant_regret(finals):
    """Per-step regret whose cumulative sum at the horizon is ``finals`` (points, seeds)."""
    finals = np.asarray(finals, dtype=np.float64)
    regret = np.repeat(finals[..., None] / NUM_STEPS, NUM_STEPS, axis=-1)
    return {"regret": regret, "reward": np.zeros_like(regret)}


def wheel_like_results(with_uniform=True):
    """uniform and "nl" at two deltas; "eps" sweeps epsilon x delta; "half" only at 0.5."""
    uniform = FakeAgentResults(
        constant_regret([[100.0, 120.0, 80.0], [50.0, 40.0, 60.0]]),
        [{"env.delta": d} for d in DELTAS],
    )
    nl = FakeAgentResults(
        constant_regret([[10.0, 20.0, np.nan], [25.0, 20.0, 30.0]]),  # one diverged seed
        [{"env.delta": d} for d in DELTAS],
    )
    eps_points = [{"agent.epsilon": e, "env.delta": d} for e in (0.0, 0.1) for d in DELTAS]
    eps = FakeAgentResults(
        constant_regret([[50.0] * 3, [5.0] * 3, [100.0] * 3, [50.0] * 3]), eps_points
    )
    half = FakeAgentResults(constant_regret([[30.0, 30.0, 30.0]]), [{"env.delta": 0.5}])
    agents = {"nl": nl, "eps": eps, "half": half}
    configs = [{"label": "nl", "name": "neural_linear"}, {"label": "eps", "name": "eg"}]
    if with_uniform:
        agents = {"uniform": uniform, **agents}
        configs.append({"label": "uniform", "name": "random"})
    config = {"agents": configs, "figures": ["normalised_regret"]}
    return FakeResults(agents, np.arange(1, NUM_STEPS + 1), config=config)


def test_normalised_regret_matches_the_formula():
    # the table is statistics (experiments.stats); figures only re-exports the same function
    assert figures.normalised_regret is stats.normalised_regret
    assert figures.NormalisedRegret is stats.NormalisedRegret
    table = stats.normalised_regret(wheel_like_results())
    assert table.reference == "uniform"
    assert table.columns == ["env.delta=0.5", "env.delta=0.9"]
    assert table.rows == [
        "uniform",
        "nl",
        "eps (epsilon=0)",
        "eps (epsilon=0.1)",
        "half",
    ]
    uniform_mean = np.array([100.0, 50.0])
    expected = 100.0 * np.array(
        [
            [1.0, 1.0],
            [15.0 / uniform_mean[0], 25.0 / uniform_mean[1]],  # the diverged seed left out
            [50.0 / uniform_mean[0], 5.0 / uniform_mean[1]],
            [100.0 / uniform_mean[0], 50.0 / uniform_mean[1]],
            [30.0 / uniform_mean[0], np.nan],  # no point at delta = 0.9
        ]
    )
    np.testing.assert_allclose(table.mean, expected, rtol=1e-12)
    # the interval over seeds of 100 R(s) / mean R_uniform: three seeds of "nl" at 0.9
    per_seed = 100.0 * np.array([25.0, 20.0, 30.0]) / 50.0
    half_width = T_975_2 * per_seed.std(ddof=1) / np.sqrt(3)
    np.testing.assert_allclose(
        [table.ci_low[1, 1], table.ci_high[1, 1]],
        [per_seed.mean() - half_width, per_seed.mean() + half_width],
        rtol=1e-3,
    )
    assert table.ci_low[2, 0] == table.ci_high[2, 0] == 50.0  # equal seeds: no width
    rows = table.to_rows()
    assert rows[1] == {"agent": "nl", "env.delta=0.5": 15.0, "env.delta=0.9": 50.0}


def test_plot_normalised_regret_returns_a_table_figure(tmp_path):
    results = wheel_like_results()
    fig, ax = figures.plot_normalised_regret(stats.normalised_regret(results))
    assert fig is ax.figure
    texts = {t.get_text(): t for t in ax.texts}
    assert "100.0 ± 49.7" in texts and "–" in texts  # the reference; the missing cell
    assert texts["10.0 ± 0.0"].get_fontweight() == "bold"  # best at delta = 0.9
    assert texts["50.0 ± 0.0"].get_fontweight() == "normal"
    assert [t.get_text() for t in ax.get_yticklabels()][0] == "uniform"
    # through draw(): the name selects it; without a uniform agent it is skipped
    paths = figures.draw(results, tmp_path, formats=("png",))
    assert [p.name for p in paths] == ["normalised_regret.png"]
    assert paths[0].read_bytes()[:4] == b"\x89PNG"
    assert figures.draw(wheel_like_results(False), tmp_path / "none", formats=("png",)) == []
    assert stats.normalised_regret(wheel_like_results(False)) is None
    with pytest.raises(ConfigError, match="reference = 'nope'"):
        stats.normalised_regret(results, reference="nope")
    # no text under 7 pt
    fig.canvas.draw()
    sizes = [t.get_fontsize() for t in fig.findobj(matplotlib.text.Text) if t.get_text()]
    assert min(sizes) >= 7
