"""driftsim's cache of compiled programs (:mod:`experiments.program_cache`).

A program is keyed by what it closes over, walked as data: two agents or environments that
differ in anything a program could read get different keys, the same configuration built
twice gets the same key, and an object the walk cannot describe leaves the program
uncached.  A warm run (in a fresh process: ``test_compile_cache``) loads every program and
gives bit-identical numbers; here, in one process, a second run loads them from disk too.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import agents as agent_registry
import experiments
from experiments import execute, program_cache
from experiments.program_cache import Program, Unknown, fingerprint
from simulator import REGISTRY as ENVIRONMENTS

SMALL = {
    "name": "program-cache",
    "num_seeds": 3,
    "num_steps": 40,
    "figures": [],
    "env": {"name": "bernoulli", "num_arms": 4},
    "agents": [
        {"label": "ucb", "name": "ucb"},
        {"label": "eps", "name": "epsilon_greedy", "epsilon": 0.1},
    ],
    "sweep": {"agents.eps.epsilon": [0.05, 0.2]},
}


@pytest.fixture
def cache(tmp_path):
    before = dict(program_cache.stats)
    program_cache.forget()
    with program_cache.using(tmp_path / "programs") as folder:
        program_cache.stats.update(hits=0, misses=0, uncached=0)
        yield folder
    program_cache.stats.update(before)
    program_cache.forget()


def _metrics(results) -> dict[str, np.ndarray]:
    return {f"{r.label}/{k}": np.asarray(v) for r in results for k, v in r.metrics.items()}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        a[k].dtype == b[k].dtype and a[k].tobytes() == b[k].tobytes() for k in a
    )


def test_a_second_run_loads_every_program_and_gives_the_same_bits(cache):
    plain = _metrics(experiments.run(SMALL))
    first = dict(program_cache.stats)
    assert first["misses"] >= 4 and first["hits"] == 0 and first["uncached"] == 0
    stored = sorted(p.name for p in cache.glob("*.program"))
    assert len(stored) == first["misses"]

    program_cache.forget()  # what this process loaded: read the disk
    again = _metrics(experiments.run(SMALL))
    assert program_cache.stats["hits"] == first["misses"]
    assert program_cache.stats["misses"] == first["misses"]  # nothing new compiled
    assert sorted(p.name for p in cache.glob("*.program")) == stored
    assert _same(again, plain)

    with program_cache.using(None):  # and the cache off gives the same numbers
        assert _same(_metrics(experiments.run(SMALL)), plain)


def test_a_corrupt_or_truncated_entry_is_compiled_again(cache):
    want = _metrics(experiments.run(SMALL))
    compiled = program_cache.stats["misses"]
    for i, entry in enumerate(sorted(cache.iterdir())):
        data = entry.read_bytes()
        entry.write_bytes(b"\x80\x05garbage" if i % 2 else data[: len(data) // 3])
    program_cache.forget()
    assert _same(_metrics(experiments.run(SMALL)), want)
    assert program_cache.stats["misses"] == 2 * compiled  # each rebuilt and rewritten
    program_cache.forget()
    assert _same(_metrics(experiments.run(SMALL)), want)
    assert program_cache.stats["hits"] == compiled


def _agent(name, **static):
    return agent_registry.make(name, **static)


def test_the_fingerprint_tells_apart_whatever_a_program_could_read():
    # the same configuration built twice: the same fingerprint (fresh closures, same data)
    assert fingerprint(_agent("ogd", context_dim=4, optimizer="adam")) == fingerprint(
        _agent("ogd", context_dim=4, optimizer="adam")
    )
    different = [
        _agent("ogd", context_dim=4, optimizer="adam"),
        _agent("ogd", context_dim=4, optimizer="sgd"),  # another optax transformation
        _agent("ogd", context_dim=5, optimizer="adam"),  # a shape in a closure
        _agent("ucb", num_arms=4),
        _agent("epsilon_greedy", num_arms=4),
    ]
    assert len({fingerprint(a) for a in different}) == len(different)

    env = ENVIRONMENTS.make("bernoulli", num_arms=4)
    assert fingerprint(env) == fingerprint(ENVIRONMENTS.make("bernoulli", num_arms=4))
    assert fingerprint(env) != fingerprint(ENVIRONMENTS.make("bernoulli", num_arms=5))

    # what a function is bound to is walked by value; arrays by content, dtype and shape
    bound = [functools.partial(execute._first_run_of_each, v) for v in (0.1, 0.2, 0.1)]
    assert fingerprint(bound[0]) != fingerprint(bound[1])
    assert fingerprint(bound[0]) == fingerprint(bound[2])
    a = np.arange(6.0)
    assert fingerprint(execute._first_run_of_each) != fingerprint(execute._each_leaf_shared)
    assert fingerprint((execute._first_run_of_each, a)) != fingerprint(
        (execute._first_run_of_each, a + 1e-12)
    )
    assert fingerprint(jnp.asarray(a)) != fingerprint(jnp.asarray(a, jnp.float32).reshape(2, 3))


def test_what_the_walk_cannot_describe_is_left_uncached(cache):
    class Plugin:  # a class of a module outside driftsim and its libraries
        scale = 2.0

    def outside(x):  # a function of this test module
        return x * 2.0

    with pytest.raises(Unknown, match="Plugin"):
        fingerprint(Plugin())
    with pytest.raises(Unknown, match="outside"):
        fingerprint(outside)

    program = Program(outside)
    assert program(jnp.ones(3)).tolist() == [2.0] * 3  # runs, through jax.jit
    assert program_cache.stats == {"hits": 0, "misses": 0, "uncached": 1}
    assert not list(cache.iterdir())


def test_the_key_holds_the_source_the_arguments_and_the_static_values(monkeypatch):
    own = fingerprint(execute._first_run_of_each)
    x = [jnp.ones((2, 3))]
    base = program_cache.key(own, (x,))
    assert base == program_cache.key(own, ([jnp.zeros((2, 3))],))  # values are arguments
    assert base != program_cache.key(own, ([jnp.ones((2, 4))],))
    assert base != program_cache.key(own, ([jnp.ones((2, 3), jnp.int32)],))
    assert base != program_cache.key(own, ((x[0],),))  # another tree structure
    assert program_cache.key(own, (x, 3), (1,)) != program_cache.key(own, (x, 4), (1,))
    monkeypatch.setattr(program_cache, "_environment_digest", lambda: "edited source")
    assert base != program_cache.key(own, (x,))


def test_under_a_transformation_it_is_the_jitted_function(cache):
    program = Program(execute._first_run_of_each)
    leaves = [jnp.arange(6.0).reshape(2, 3)]
    shapes = jax.eval_shape(program, leaves)
    assert shapes[0].shape == ()
    assert program_cache.stats == {"hits": 0, "misses": 0, "uncached": 0}
    assert float(program(leaves)[0]) == 0.0 and program_cache.stats["misses"] == 1
