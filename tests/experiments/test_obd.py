"""The Open Bandit Dataset reader (experiments.offpolicy.obd), on small files the tests
write in the real layout (so CI covers the code without obp); the sample itself is checked
when obp is installed."""

import importlib.metadata

import numpy as np
import pytest

from experiments.offpolicy import obd
from experiments.schema import OBD_POLICIES
from simulator.params import ConfigError

needs_obd = pytest.mark.skipif(not obd.obd_available(), reason="obp not installed")


def _write_obd(folder, policy="random", campaign="all", num_items=5, num_rows=40, seed=0):
    rng = np.random.default_rng(seed)
    path = folder / policy / campaign
    path.mkdir(parents=True)
    header = (
        ",timestamp,item_id,position,click,propensity_score,"
        + ",".join(f"user_feature_{j}" for j in range(4))
        + ","
        + ",".join(f"user-item_affinity_{i}" for i in range(num_items))
    )
    lines = [header]
    items = rng.integers(0, num_items, num_rows)
    positions = rng.integers(1, 4, num_rows)
    clicks = (rng.random(num_rows) < 0.2).astype(int)
    for r in range(num_rows):
        users = ",".join(f"h{j}{rng.integers(0, 3)}" for j in range(4))
        affinity = ",".join(f"{v:.1f}" for v in rng.integers(0, 2, num_items))
        lines.append(
            f"{r},2019-11-24 00:00:00+00:00,{items[r]},{positions[r]},{clicks[r]},"
            f"{1 / num_items},{users},{affinity}"
        )
    (path / f"{campaign}.csv").write_text("\n".join(lines) + "\n")
    return items, positions, clicks


def test_obd_layout_is_read_from_a_folder(tmp_path):
    items, positions, clicks = _write_obd(tmp_path)
    data = obd.load_obd("random", "all", str(tmp_path))
    np.testing.assert_array_equal(data.item, items)
    np.testing.assert_array_equal(data.position, positions - 1)
    np.testing.assert_array_equal(data.click, clicks)
    np.testing.assert_allclose(data.propensity, 0.2)
    assert data.num_items == 5 and data.affinity.shape == (40, 5)
    contexts = obd.obd_contexts(data)
    sizes = [len(v) for v in data.user_vocabulary]
    assert contexts.shape == (40, sum(sizes) + 3)
    np.testing.assert_array_equal(contexts.sum(axis=1), 5.0)  # four one-hots and a position
    assert obd.load_obd("random", "all", str(tmp_path), max_rows=7).num_rows == 7


def test_obd_bad_input_says_what_was_expected(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match=r"expected bts/all/all.csv under .*layout"):
        obd.load_obd("bts", "all", str(tmp_path))
    with pytest.raises(ConfigError, match="policy = 'greedy': unknown; allowed: random, bts"):
        obd.load_obd("greedy", "all", str(tmp_path))
    folder = tmp_path / "random" / "men"
    folder.mkdir(parents=True)
    (folder / "men.csv").write_text("item_id,click\n1,0\n")
    with pytest.raises(ConfigError, match="lacks the column"):
        obd.load_obd("random", "men", str(tmp_path))
    _write_obd(tmp_path, campaign="women")
    text = (tmp_path / "random" / "women" / "women.csv").read_text().splitlines()
    text[1] = text[1].replace(",0.2,", ",0.0,", 1)
    (tmp_path / "random" / "women" / "women.csv").write_text("\n".join(text))
    with pytest.raises(ConfigError, match=r"propensity_score must be in \(0, 1\]"):
        obd.load_obd("random", "women", str(tmp_path))

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(ConfigError, match=r"pip install --no-deps obp==0.4.1"):
        obd.load_obd("random", "all")
    assert not obd.obd_available()


@needs_obd
def test_obd_sample_has_its_documented_size():
    for campaign, num_items in (("all", 80), ("men", 34), ("women", 46)):
        for policy in OBD_POLICIES:
            data = obd.load_obd(policy, campaign)
            assert data.num_rows == 10_000 and data.num_items == num_items
            assert set(np.unique(data.position)) == {0, 1, 2}
        uniform = obd.load_obd("random", campaign)
        np.testing.assert_allclose(uniform.propensity, 1.0 / num_items, rtol=1e-6)
    assert int(obd.load_obd("random", "all").click.sum()) == 38
