"""Several hosts: two JAX processes (two CPU devices each) on localhost run one sweep.

The seed axis is sharded over the four devices of both processes; the main process writes
the results folder; the numbers equal a single-process run's.
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from experiments import distributed
from experiments.api import run
from simulator.params import ConfigError
from tests.experiments.test_run import experiment

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SMALL = experiment(
    num_seeds=6,
    chunk_size=10,
    sweep={"agent.epsilon": [0.05, 0.2]},
    agents=[
        {"label": "greedy", "name": "epsilon_greedy"},
        {"label": "ucb", "name": "ucb"},
    ],
)

WORKER = """
import json, sys
from experiments import distributed
port, pid, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
distributed.initialize(f"localhost:{port}", num_processes=2, process_id=pid)
import jax
from experiments.api import run
from tests.experiments.test_distributed import SMALL
r = run(SMALL, out=out, figures=False)
print(json.dumps({"devices": jax.device_count(), "local": jax.local_device_count(),
                  "reward": r["greedy"].reward.tolist()}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_two_processes_equal_one_process(tmp_path):
    env = dict(
        os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu"
    )
    port, out = free_port(), tmp_path / "out"
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(port), str(pid), str(out)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for pid in (0, 1)
    ]
    outputs = [w.communicate(timeout=300) for w in workers]
    for worker, (_, stderr) in zip(workers, outputs):
        assert worker.returncode == 0, stderr[-3000:]
    reports = [json.loads(stdout.strip().splitlines()[-1]) for stdout, _ in outputs]
    assert [(r["devices"], r["local"]) for r in reports] == [(4, 2), (4, 2)]
    single = run(SMALL, figures=False)
    for report in reports:  # every process holds the gathered metrics
        np.testing.assert_allclose(np.asarray(report["reward"]), single["greedy"].reward)
    written = json.loads((out / "config.json").read_text())  # the main process wrote it
    assert written["complete"] and not (out / "checkpoint").exists()


def test_initialize_needs_all_three_or_none():
    with pytest.raises(ConfigError, match="coordinator, num_processes and process_id"):
        distributed.initialize("localhost:1234", num_processes=2)
    with pytest.raises(ConfigError, match="process_id = 2"):
        distributed.initialize("localhost:1234", num_processes=2, process_id=2)
