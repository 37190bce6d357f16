"""TensorBoard curves: the values equal the results' seed means, and a resumed run
rewrites the steps after its checkpoint instead of showing them twice."""

import struct
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from experiments import checkpoint, tracking
from experiments.api import run
from tests.experiments.test_run import experiment

event_pb2 = pytest.importorskip("tensorboardX.proto.event_pb2")

SWEPT = experiment(chunk_size=10, sweep={"agent.epsilon": [0.0, 0.3]})


def read_scalars(run_dir: Path) -> dict[str, dict[int, float]]:
    """Scalars by tag and step, applying TensorBoard's purge rule: a session START at
    step s discards the values already read at steps >= s."""
    scalars: dict[str, dict[int, float]] = {}
    for path in sorted(run_dir.glob("events.out.tfevents.*")):
        data = path.read_bytes()
        offset = 0
        while offset < len(data):
            (length,) = struct.unpack("<Q", data[offset : offset + 8])
            event = event_pb2.Event.FromString(data[offset + 12 : offset + 12 + length])
            offset += 12 + length + 4
            if event.session_log.status == event_pb2.SessionLog.START:
                for values in scalars.values():
                    for step in [s for s in values if s >= event.step]:
                        del values[step]
            for value in event.summary.value:
                steps = scalars.setdefault(value.tag, {})
                assert event.step not in steps, f"{value.tag} written twice at {event.step}"
                steps[event.step] = value.simple_value
    return scalars


def same_second_file_names(monkeypatch):
    """Event files are named by the second they are opened in: freeze that clock, as if
    the resume came within the same second as the interrupted run."""
    import tensorboardX.event_file_writer as event_file_writer

    monkeypatch.setattr(event_file_writer, "time", SimpleNamespace(time=lambda: 1.8e9))


def test_curves_are_the_seed_means_and_survive_a_resume(tmp_path, monkeypatch):
    """Killed after the 2nd chunk's curves are flushed, before its checkpoint: the resume
    rewrites steps 11-40 in a new file (same-second names included) and loses none."""
    reference = run(SWEPT, figures=False)["greedy"]
    same_second_file_names(monkeypatch)
    out = tmp_path / "interrupted"
    saves = []
    original_save = checkpoint.GroupCheckpoint.save

    def save_then_die(self, *args):  # the 2nd chunk's curves are written, its checkpoint not
        saves.append(1)
        if len(saves) == 2:
            raise KeyboardInterrupt
        original_save(self, *args)

    monkeypatch.setattr(checkpoint.GroupCheckpoint, "save", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        run(SWEPT, out=out, figures=False, tensorboard=True)
    monkeypatch.undo()
    same_second_file_names(monkeypatch)
    run(None, out=out, resume=True, figures=False, tensorboard=True)
    assert len(list((out / "tensorboard" / "agent=greedy").glob("*/events.out.*"))) == 4

    for index, name in enumerate(["agent.epsilon=0.0", "agent.epsilon=0.3"]):
        curves = read_scalars(out / "tensorboard" / "agent=greedy" / name)
        steps = np.arange(1, 41)
        assert sorted(curves["regret"]) == list(steps)
        np.testing.assert_allclose(
            [curves["regret"][s] for s in steps], reference.regret[index].mean(0), rtol=1e-6
        )
        np.testing.assert_allclose(
            curves["cumulative_regret"][40],
            reference.cumulative_regret()[index, :, -1].mean(),
            rtol=1e-5,
        )


def test_long_runs_keep_at_most_max_values_per_curve(tmp_path, monkeypatch):
    monkeypatch.setattr(tracking, "MAX_VALUES", 7)
    results = run(experiment(chunk_size=10), out=tmp_path, figures=False, tensorboard=True)
    curves = read_scalars(tmp_path / "tensorboard" / "agent=greedy" / "default")
    assert sorted(curves["reward"]) == [6, 12, 18, 24, 30, 36]  # means of 6 steps each
    mean_reward = results["greedy"].reward[0].mean(0)
    np.testing.assert_allclose(curves["reward"][12], mean_reward[6:12].mean(), rtol=1e-6)


def test_missing_tensorboardx_is_a_clear_error(monkeypatch, tmp_path):
    import builtins

    real_import = builtins.__import__

    def no_tensorboardx(name, *args, **kwargs):
        if name == "tensorboardX":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboardx)
    with pytest.raises(tracking.ConfigError, match=r"pip install 'driftsim\[tracking\]'"):
        run(experiment(), out=tmp_path, tensorboard=True)
