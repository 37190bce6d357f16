"""Importing driftsim and running an experiment changes nothing outside driftsim: JAX's
configuration, its lowering rules (the HLO of a user's own program) and the umask are as
they were (checked in a fresh process, so no other test's imports interfere)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, os, sys
import jax

def snapshot():
    umask = os.umask(0o022); os.umask(umask)
    config = {k: repr(v) for k, v in jax.config.values.items()}
    hlo = jax.jit(lambda key: jax.random.bits(key, (4,))).lower(jax.random.key(0)).as_text()
    return {"config": config, "umask": umask, "hlo": hlo, "x64": jax.numpy.zeros(1).dtype.name}

os.umask(0o027)
before = snapshot()
import experiments
experiments.run({
    "env": {"name": "bernoulli", "num_arms": 3},
    "agents": [{"label": "ts", "name": "thompson"}],
    "num_seeds": 2, "num_steps": 20, "x64": True,
}, out=sys.argv[1])
after = snapshot()
modes = {p: oct(os.stat(os.path.join(sys.argv[1], p)).st_mode & 0o777)
         for p in ("config.json", "metrics.npz", "regret.png")}
print(json.dumps({"before": before, "after": after, "modes": modes}))
"""


def test_a_run_leaves_jax_config_lowering_and_umask_as_they_were(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "out")],
        capture_output=True, text=True, env=env, cwd=ROOT, check=False, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    before, after = seen["before"], seen["after"]
    assert after["config"] == before["config"]
    assert after["umask"] == before["umask"] == 0o027
    assert after["x64"] == before["x64"] == "float32"
    assert after["hlo"] == before["hlo"]  # the user's program: JAX's own lowering still
    # files get 0666 & ~umask (0640 here), never owner-only, never world-readable
    assert set(seen["modes"].values()) == {"0o640"}
