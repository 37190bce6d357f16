"""The compilation cache of ``driftsim run`` and compressed results.

The folder follows ``XDG_CACHE_HOME``; ``--no-cache`` and ``DRIFTSIM_NO_CACHE`` turn it
off; ``driftsim list`` prints it; the library turns nothing on by itself; a warm run (a
fresh process: JAX also caches in memory) loads every program from the folder and gives
bit-identical metrics; corrupt entries never fail a run.  ``metrics.npz`` is compressed and
loads exactly; folders written uncompressed still load; checkpoints stay uncompressed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import pytest

import experiments
from experiments import atomic, cli, compilation_cache
from experiments.checkpoint import GroupCheckpoint

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["run", "bernoulli", "--seeds", "2", "--steps", "30", "--quiet"]


def _settings() -> dict:
    return {name: jax.config.values[name] for name in compilation_cache.SETTINGS}


def test_the_folder_follows_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert compilation_cache.folder() == tmp_path / "driftsim" / "jax"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # not absolute: ignored (XDG)
    assert compilation_cache.folder() == Path.home() / ".cache" / "driftsim" / "jax"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert compilation_cache.folder() == Path.home() / ".cache" / "driftsim" / "jax"


@pytest.mark.parametrize(
    "argv, env, on",
    [
        (["run", "testbed"], None, True),
        (["run", "testbed", "--no-cache"], None, False),
        (["run", "testbed"], "1", False),
        (["run", "testbed"], "0", True),  # 0 / false / no / off: not set
        (["run", "testbed"], "yes", False),
    ],
)
def test_no_cache_and_the_environment_variable_turn_it_off(monkeypatch, tmp_path, argv, env, on):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    if env is None:
        monkeypatch.delenv(compilation_cache.ENV_VAR, raising=False)
    else:
        monkeypatch.setenv(compilation_cache.ENV_VAR, env)
    seen = {}

    def command_run(args):  # what a run would see, without running
        seen.update(_settings())
        return 0

    monkeypatch.setattr(cli, "command_run", command_run)
    before = _settings()
    assert cli.main(argv) == 0
    folder = str(tmp_path / "driftsim" / "jax")
    assert seen["jax_compilation_cache_dir"] == (folder if on else before[
        "jax_compilation_cache_dir"])  # fmt: skip
    if on:
        assert seen["jax_persistent_cache_min_compile_time_secs"] == 0
        assert oct(os.stat(folder).st_mode & 0o777) == "0o700"  # the cache is trusted
    assert _settings() == before  # main restores JAX's options


def test_list_prints_the_folder(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv(compilation_cache.ENV_VAR, raising=False)
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "compilation cache" in out
    assert f"{tmp_path / 'driftsim' / 'jax'}  (empty; on for driftsim run" in out
    monkeypatch.setenv(compilation_cache.ENV_VAR, "1")
    assert "DRIFTSIM_NO_CACHE is set" in compilation_cache.describe()


def test_enable_compilation_cache_is_opt_in(tmp_path):
    before = _settings()
    assert experiments.enable_compilation_cache is compilation_cache.enable_compilation_cache
    with compilation_cache.enabled(tmp_path / "c") as folder:
        assert folder == tmp_path / "c"
        assert jax.config.values["jax_compilation_cache_dir"] == str(folder)
        assert jax.config.values["jax_raise_persistent_cache_errors"] is False
    assert _settings() == before


def test_a_folder_that_cannot_be_made_is_a_warning(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    before = _settings()
    with compilation_cache.enabled(tmp_path / "file") as folder:
        assert folder is None
        assert _settings() == before
    assert "driftsim: warning: no compilation cache" in capsys.readouterr().err


def test_unreadable_entries_are_removed_with_one_warning_line(tmp_path, capsys):
    good = zlib.compress(b"\0\0\0\1executable")
    (tmp_path / "jit_a-1-cache").write_bytes(b"garbage")
    (tmp_path / "jit_a-1-atime").write_bytes(b"12345678")
    (tmp_path / "jit_a-2-cache").write_bytes(good)
    (tmp_path / "jit_b-3-cache").write_bytes(good)
    show = compilation_cache._CacheWarnings(tmp_path, show=None)
    read = "Error reading persistent compilation cache entry for '{}': ValueError: x"
    show(read.format("jit_a"), UserWarning, "f", 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jit_a-2-cache", "jit_b-3-cache"]
    show(read.format("jit_b"), UserWarning, "f", 1)  # it decompresses: the executable was bad
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jit_a-2-cache"]
    show("Error writing persistent compilation cache entry for 'jit_c': OSError: full", 0, 0, 0)
    show("Error writing persistent compilation cache entry for 'jit_d': OSError: full", 0, 0, 0)
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"driftsim: warning: compilation cache {tmp_path}: unreadable entries are removed "
        "and compiled again (the first: 'jit_a')",
        f"driftsim: warning: compilation cache {tmp_path}: cannot write (OSError: full); "
        "the run goes on",
    ]


PROBE = """
import json, sys
import jax
from experiments.compilation_cache import SETTINGS
settings = lambda: {k: jax.config.values[k] for k in SETTINGS}
before = settings()
import experiments
imported = settings()
from experiments import cli
events = {}
jax.monitoring.register_event_listener(lambda e, **kw: events.__setitem__(e, events.get(e, 0) + 1))
rc = cli.main(sys.argv[1:])
from experiments import program_cache
print(json.dumps({"rc": rc, "before": before, "imported": imported, "after": settings(),
                  "hits": events.get("/jax/compilation_cache/cache_hits", 0),
                  "misses": events.get("/jax/compilation_cache/cache_misses", 0),
                  "programs": program_cache.stats, "flax": "flax" in sys.modules}))
"""


def _driftsim(tmp_path: Path, out: str) -> tuple[dict, str]:
    """``driftsim run`` (SMALL) in a fresh process; its probe record and stderr."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k != compilation_cache.ENV_VAR and not k.startswith("JAX_")
    }
    env.update(XDG_CACHE_HOME=str(tmp_path / "xdg"), PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    env.setdefault("MPLCONFIGDIR", matplotlib.get_cachedir())  # its font cache, not rebuilt
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *SMALL, "--out", str(tmp_path / out)],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=False, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stderr


def _metrics(folder: Path) -> dict[str, bytes]:
    with np.load(folder / "metrics.npz", allow_pickle=False) as data:
        return {k: data[k].dtype.str.encode() + data[k].tobytes() for k in data.files}


def _entries(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.glob("*-cache")}


@pytest.mark.slow
def test_a_warm_run_is_bit_identical_and_corrupt_entries_never_fail(tmp_path):
    cache = tmp_path / "xdg" / "driftsim" / "jax"
    programs = cache / compilation_cache.PROGRAMS
    cold, _ = _driftsim(tmp_path, "cold")
    # importing driftsim turns nothing on; the command turns the cache on, then restores
    assert cold["imported"] == cold["before"] == cold["after"]
    assert cold["before"]["jax_compilation_cache_dir"] is None
    assert cold["misses"] > 0 and cold["hits"] == 0
    assert not cold["flax"]  # no neural agent: flax is never imported
    written = _entries(cache)
    assert len(written) == cold["misses"]
    # the runner's programs, kept ready to run (compiled past JAX's cache: an executable
    # JAX loaded could not be stored again); JAX's cache holds the small eager operations
    stored = cold["programs"]["misses"]
    assert stored >= 4 and cold["programs"]["hits"] == 0 and cold["programs"]["uncached"] == 0
    assert len(list(programs.glob("*.program"))) == stored

    warm, _ = _driftsim(tmp_path, "warm")
    # nothing compiled: the runner's programs come from driftsim's cache (never traced)
    assert warm["misses"] == 0 and warm["hits"] == cold["misses"]
    assert warm["programs"] == {"hits": stored, "misses": 0, "uncached": 0}
    assert _entries(cache) == written
    assert _metrics(tmp_path / "warm") == _metrics(tmp_path / "cold")

    for i, entry in enumerate(sorted(cache.glob("*-cache"))):  # garbage or truncated
        data = entry.read_bytes()
        entry.write_bytes(os.urandom(64) if i % 2 else data[: len(data) // 2])
    for i, entry in enumerate(sorted(programs.iterdir())):
        data = entry.read_bytes()
        entry.write_bytes(os.urandom(64) if i % 2 else data[: len(data) // 2])
    healed, err = _driftsim(tmp_path, "healed")
    assert healed["hits"] == 0 and healed["misses"] == cold["misses"]
    assert healed["programs"] == {"hits": 0, "misses": stored, "uncached": 0}
    assert err.count("unreadable entries are removed and compiled again") == 1
    assert _metrics(tmp_path / "healed") == _metrics(tmp_path / "cold")
    for entry in cache.glob("*-cache"):  # rewritten by the fresh compiles
        zlib.decompress(entry.read_bytes())
    again, _ = _driftsim(tmp_path, "again")  # and the rewritten programs load
    assert again["programs"] == {"hits": stored, "misses": 0, "uncached": 0}
    assert _metrics(tmp_path / "again") == _metrics(tmp_path / "cold")


ARRAYS = {
    "steps": np.arange(1, 41),
    "a/reward": np.random.default_rng(0).normal(size=(3, 4, 40)).astype(np.float32),
    "a/optimal": (np.arange(480).reshape(3, 4, 40) % 3 == 0).astype(np.float32),
    "a/regret": np.where(np.arange(480) % 7, 0.5, np.nan).reshape(3, 4, 40).astype(np.float32),
    "a/diverged": np.array([[True, False, False, True]] * 3),
    "a/invalid_actions": np.zeros((3, 4), np.int32),
}


def _same(got: dict, want: dict) -> bool:
    return got.keys() == want.keys() and all(
        got[k].dtype == want[k].dtype and got[k].tobytes() == want[k].tobytes() for k in want
    )


@pytest.mark.parametrize("compress", [True, False])
def test_write_npz_is_lossless_compressed_or_not(tmp_path, compress):
    path = atomic.write_npz(tmp_path / "m.npz", ARRAYS, compress=compress)
    kind = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path) as archive:
        assert {i.compress_type for i in archive.infolist()} == {kind}
        assert sorted(archive.namelist()) == sorted(f"{k}.npy" for k in ARRAYS)
    with np.load(path, allow_pickle=False) as data:
        assert _same({k: data[k] for k in data.files}, ARRAYS)
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # no temporary left


def test_results_are_compressed_and_old_uncompressed_folders_still_load(tmp_path):
    from experiments.results import load

    out = tmp_path / "run"
    experiments.run(
        {"env": {"name": "bernoulli", "num_arms": 3}, "num_seeds": 2, "num_steps": 20,
         "agents": [{"label": "ts", "name": "thompson"}]},
        out=out, figures=False,
    )  # fmt: skip
    with zipfile.ZipFile(out / "metrics.npz") as archive:
        assert {i.compress_type for i in archive.infolist()} == {zipfile.ZIP_DEFLATED}
    new = load(out)
    with np.load(out / "metrics.npz", allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    np.savez(out / "metrics.npz", **arrays)  # as driftsim wrote it before
    with zipfile.ZipFile(out / "metrics.npz") as archive:
        assert {i.compress_type for i in archive.infolist()} == {zipfile.ZIP_STORED}
    old = load(out)
    assert _same(old["ts"].metrics, new["ts"].metrics)
    assert np.array_equal(old["ts"].diverged, new["ts"].diverged)
    assert np.array_equal(old.steps, new.steps)


def test_checkpoints_stay_uncompressed(tmp_path):
    checkpoint = GroupCheckpoint(tmp_path, 0, 0)
    carry = {"key": jax.random.key(1), "x": jnp.arange(3.0)}
    checkpoint.save(5, carry, [{"reward": np.ones((1, 2, 5), np.float32)}])
    with zipfile.ZipFile(checkpoint.path) as archive:
        assert {i.compress_type for i in archive.infolist()} == {zipfile.ZIP_STORED}
    t_done, restored, logs = checkpoint.load(carry)
    assert t_done == 5 and np.array_equal(restored["x"], carry["x"])
    assert np.array_equal(logs[0]["reward"], np.ones((1, 2, 5)))
