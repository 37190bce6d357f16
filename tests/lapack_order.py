"""Find LAPACK calls that a compiled CPU program may run at the same time.

jaxlib's CPU LAPACK kernels split a batch over XLA's intra-op thread pool and wait for the
pieces; two independent ones running at once can take every pool thread and hang forever
(see :mod:`agents.linalg`).  :func:`unordered_lapack_calls` reads a compiled program's
HLO text (``jax.jit(f).lower(...).compile().as_text()``) and returns every pair of LAPACK
custom calls that no data dependency orders.  A loop, call or conditional whose body holds
a LAPACK call counts as one, since XLA may run it beside its independent neighbours.
"""

from __future__ import annotations

import re
from itertools import combinations

_COMPUTATION = re.compile(r"^(?:ENTRY\s+)?(%[\w.\-]+)\s*\(.*\{\s*$")
_INSTRUCTION = re.compile(r"^\s*(?:ROOT\s+)?(%[\w.\-]+)\s*=\s*(.*)$")
_CALLED = re.compile(
    r"\b(?:calls|body|condition|to_apply)=(%[\w.\-]+)|branch_computations=\{([^}]*)\}"
)
_NAME = re.compile(r"%[\w.\-]+")


def _parse(hlo: str) -> dict[str, dict[str, tuple[bool, set[str], set[str]]]]:
    """``{computation: {instruction: (is_lapack_call, operands, called computations)}}``."""
    computations: dict[str, dict] = {}
    current = None
    for line in hlo.splitlines():
        instruction = _INSTRUCTION.match(line)
        if instruction is None:
            header = _COMPUTATION.match(line)
            if header is not None:
                current = computations.setdefault(header.group(1), {})
            elif line.strip() == "}":
                current = None
            continue
        if current is None:
            continue
        name, rest = instruction.groups()
        called = {c for groups in _CALLED.findall(rest) for c in _NAME.findall(" ".join(groups))}
        operands = set(_NAME.findall(rest)) - called
        is_lapack = "custom-call(" in rest and 'custom_call_target="lapack_' in rest
        current[name] = (is_lapack, operands, called)
    return computations


def _upstream(instructions: dict, name: str) -> set[str]:
    """Every instruction that ``name`` depends on, within its computation."""
    found: set[str] = set()
    stack = [name]
    while stack:
        for operand in instructions[stack.pop()][1]:
            if operand in instructions and operand not in found:
                found.add(operand)
                stack.append(operand)
    return found


def unordered_lapack_calls(hlo: str) -> list[tuple[str, str, str]]:
    """``(computation, a, b)`` for every pair of LAPACK-holding instructions of one
    computation that neither depends on the other."""
    computations = _parse(hlo)
    holds: dict[str, bool] = {}

    def holds_lapack(computation: str) -> bool:
        if computation not in holds:
            holds[computation] = False  # recursion guard
            holds[computation] = any(
                is_lapack or any(holds_lapack(c) for c in called if c in computations)
                for is_lapack, _, called in computations[computation].values()
            )
        return holds[computation]

    pairs = []
    for computation, instructions in computations.items():
        lapack = [
            name
            for name, (is_lapack, _, called) in instructions.items()
            if is_lapack or any(holds_lapack(c) for c in called if c in computations)
        ]
        if len(lapack) < 2:
            continue
        upstream = {name: _upstream(instructions, name) for name in lapack}
        pairs += [
            (computation, a, b)
            for a, b in combinations(lapack, 2)
            if a not in upstream[b] and b not in upstream[a]
        ]
    return pairs


def assert_lapack_calls_ordered(jitted, *args, **kwargs) -> None:
    """Compile ``jitted`` for ``args`` (only if its lowering calls LAPACK) and fail on any
    pair of LAPACK calls that may run at once."""
    lowered = jitted.lower(*args, **kwargs)
    if "lapack_" not in lowered.as_text():
        return
    pairs = unordered_lapack_calls(lowered.compile().as_text())
    assert not pairs, f"LAPACK calls that may run at once and hang (agents.linalg): {pairs}"
