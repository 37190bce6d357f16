"""Several hosts, one sweep: ``jax.distributed`` and the host side of global arrays.

JAX runs one process per host (multi-controller SPMD).  Every process runs the same
program on the same experiment; ``jax.devices()`` then lists the devices of *all* hosts,
and the executor shards the seed axis over them with one ``Mesh``.  Each host computes
only its own seeds; the recorded metrics are gathered to every process
(:func:`to_host`), and only the main process (``jax.process_index() == 0``) writes the
results folder and the checkpoints.  Since a run's numbers depend only on its key and the
step index, a sweep gives the same numbers on one device, on N devices and on N hosts.

Launch (one command per host, the same experiment on each)::

    # host 0 (also the coordinator)            # host 1
    driftsim run drifting-users \\               driftsim run drifting-users \\
      --coordinator host0:8476 \\                  --coordinator host0:8476 \\
      --num-processes 2 --process-id 0 \\          --num-processes 2 --process-id 1 \\
      --out /shared/results/du                    --out /shared/results/du

On a SLURM or Open MPI cluster ``--distributed`` alone lets JAX read the job's layout
from the environment (``jax.distributed.initialize()`` with no arguments).  ``--out``
must be on a filesystem every host sees (NFS, Lustre) for ``--resume`` to work: every
process reads the checkpoint; only the main process writes it.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.experimental import multihost_utils

from simulator.params import ConfigError


def initialize(
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
) -> None:
    """Join a multi-process JAX job (call once, before any other JAX computation).

    With no arguments JAX detects the layout of a SLURM / Open MPI / Kubernetes job;
    otherwise all three must be given.  On CPUs the collectives run over Gloo.

    Args:
      coordinator: ``host:port`` of process 0.
      num_processes: number of processes (one per host).
      process_id: this process's index in ``[0, num_processes)``.
    """
    given = [v is not None for v in (coordinator, num_processes, process_id)]
    if any(given) and not all(given):
        raise ConfigError(
            "distributed: give all of coordinator, num_processes and process_id "
            "(or none, to let JAX read a SLURM / Open MPI job's layout)"
        )
    if num_processes is not None and not 0 <= process_id < num_processes:
        raise ConfigError(
            f"process_id = {process_id}: must be in [0, num_processes = {num_processes})"
        )
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=coordinator, num_processes=num_processes, process_id=process_id
    )


def is_main_process() -> bool:
    """True on the process that writes results and checkpoints (process 0)."""
    return jax.process_index() == 0


def to_host(value: Any) -> np.ndarray:
    """A numpy copy of a (possibly globally sharded) array, the same on every process."""
    if isinstance(value, jax.Array) and not value.is_fully_addressable:
        return np.asarray(multihost_utils.process_allgather(value, tiled=True))
    return np.asarray(value)


def global_array(value: Any, sharding: jax.sharding.Sharding | None) -> jax.Array:
    """Place a host value that every process holds in full onto ``sharding``'s devices."""
    if sharding is None:
        return jax.numpy.asarray(value)
    if jax.dtypes.issubdtype(value.dtype, jax.dtypes.prng_key):
        data = global_array(np.asarray(jax.random.key_data(value)), sharding)
        return jax.random.wrap_key_data(data, impl=jax.random.key_impl(value))
    value = np.asarray(value)
    return jax.make_array_from_callback(value.shape, sharding, lambda index: value[index])
