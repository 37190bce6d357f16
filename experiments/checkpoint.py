"""Checkpoints of an interrupted sweep, written atomically after every chunk.

A run with an output folder keeps ``DIR/checkpoint/``: the resolved experiment
(``experiment.json``) and, for each compile group, one ``.npz`` holding the scan carry
(its leaves, in tree order), the metrics recorded so far and the number of steps done.
``driftsim run --resume DIR`` rebuilds the same program, restores each carry and continues;
because step keys depend only on the step index, the result equals an uninterrupted run.
The folder is removed once the results are saved.  With several hosts every process
gathers the carry (a collective) and only the main process writes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from experiments import atomic
from experiments.distributed import is_main_process, to_host
from simulator.params import ConfigError

FOLDER = "checkpoint"


def is_key(leaf: Any) -> bool:
    """Is the carry leaf an array of typed PRNG keys (``jax.random.key``)?  Such leaves
    are stored and compared as their ``key_data``."""
    return jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key)


class GroupCheckpoint:
    """The checkpoint file of one compile group (agent ``a``, group ``g``)."""

    def __init__(self, folder: Path, agent_index: int, group_index: int):
        self.path = folder / f"agent{agent_index}-group{group_index}.npz"

    def save(self, t_done: int, carry: Any, logs: list[dict[str, np.ndarray]]) -> None:
        arrays = {"t_done": np.asarray(t_done)}
        for i, leaf in enumerate(jax.tree.leaves(carry)):
            if is_key(leaf):  # typed PRNG keys (e.g. buffered by the delay wrapper)
                leaf = jax.random.key_data(leaf)
            arrays[f"carry/{i}"] = to_host(leaf)
        if not is_main_process():
            return
        for name in logs[0]:
            arrays[f"log/{name}"] = np.concatenate([log[name] for log in logs], axis=-1)
        atomic.write_npz(self.path, arrays, compress=False)  # every chunk: speed first

    def load(self, like: Any) -> tuple[int, Any, list[dict[str, np.ndarray]]] | None:
        """Restore ``(t_done, carry, logs)`` with ``like``'s tree structure, or None."""
        if not self.path.is_file():
            return None
        with np.load(self.path, allow_pickle=False) as data:
            leaves_like, treedef = jax.tree.flatten(like)
            leaves = []
            for i, leaf_like in enumerate(leaves_like):
                value = data[f"carry/{i}"]
                if is_key(leaf_like):
                    leaves.append(jax.random.wrap_key_data(value))  # the default impl made them
                    continue
                if value.shape != leaf_like.shape:
                    raise ConfigError(f"{self.path}: checkpoint does not match this experiment")
                leaves.append(jnp.asarray(value, leaf_like.dtype))
            logs = {k[4:]: data[k] for k in data.files if k.startswith("log/")}
            t_done = int(data["t_done"])
        return t_done, jax.tree.unflatten(treedef, leaves), [logs]


class Checkpoint:
    """The checkpoint folder of one results folder."""

    def __init__(self, out_dir: Path):
        self.folder = Path(out_dir) / FOLDER

    def start(self, experiment_dict: dict) -> None:
        if not is_main_process():
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps(experiment_dict, indent=2, default=str) + "\n"
        atomic.write_bytes(self.folder / "experiment.json", text.encode())

    def experiment(self) -> dict:
        path = self.folder / "experiment.json"
        if not path.is_file():
            raise ConfigError(f"--resume {self.folder.parent}: no checkpoint to resume there")
        return json.loads(path.read_text())

    def group(self, agent_index: int, group_index: int) -> GroupCheckpoint:
        return GroupCheckpoint(self.folder, agent_index, group_index)

    def remove(self) -> None:
        if not is_main_process():
            return
        shutil.rmtree(self.folder, ignore_errors=True)
