"""Live TensorBoard curves of a sweep (optional: ``pip install 'driftsim[tracking]'``).

``driftsim run NAME --tensorboard`` (or ``experiments.run(..., tensorboard=True)``) writes
event files under ``OUT/tensorboard/<agent>/<point>/`` after every chunk, so a long sweep
can be watched with ``tensorboard --logdir OUT/tensorboard`` while it runs.  Each run
directory holds, per recorded step, the mean over seeds of every metric the environment
logs (``reward``, ``regret``, ``optimal``, ``loss``, ``param_error`` ...) and the mean
cumulative regret.  A curve keeps at most :data:`MAX_VALUES` values (block means over
longer strides), so a 10⁷-step run stays a small file; a point whose every seed diverged
stops its curve there (non-finite values are left out).  A resumed run opens a new event
file that starts with a session START at the step it resumes from (TensorBoard's purge
rule), so no value appears twice.

Events are written synchronously with tensorboardX's :class:`EventsWriter` (which needs
neither TensorFlow nor PyTorch): once a chunk's curves are flushed they are on disk, before
its checkpoint.  (``SummaryWriter.flush`` does not wait for the events still queued for its
writer thread, and two of its files opened in the same second get the same name.)
"""

from __future__ import annotations

import re
import time
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from simulator.params import ConfigError

#: Most values written per curve over the whole horizon.
MAX_VALUES = 1000
FOLDER = "tensorboard"


def require_tensorboardx() -> Any:
    """tensorboardX's event-file parts (``EventsWriter``, ``Event``, ``SessionLog``,
    ``scalar``), or a ConfigError saying how to install it."""
    try:
        import tensorboardX  # noqa: F401  (the install check)
    except ImportError:
        raise ConfigError(
            "tensorboard: needs the optional package tensorboardX; "
            "install it with: pip install 'driftsim[tracking]'"
        ) from None
    from tensorboardX.event_file_writer import EventsWriter
    from tensorboardX.proto.event_pb2 import Event, SessionLog
    from tensorboardX.summary import scalar

    return SimpleNamespace(
        EventsWriter=EventsWriter, Event=Event, SessionLog=SessionLog, scalar=scalar
    )


class EventFile:
    """One event file of one run directory, written synchronously.

    The file is new (a name no earlier file of the directory has: TensorBoard reads a
    directory's files in name order, and the timestamp in the name has one-second
    resolution, so a sequence number follows it); with ``purge_step`` it starts with a
    session START there, which makes TensorBoard discard the values of earlier files at
    steps ``>= purge_step``.
    """

    def __init__(self, parts: Any, logdir: Path, purge_step: int | None):
        logdir.mkdir(parents=True, exist_ok=True)
        sequence = len(list(logdir.glob("events.out.tfevents.*")))
        self.parts = parts
        self.writer = parts.EventsWriter(str(logdir / "events"), f".{sequence:04d}")
        if purge_step is not None:
            start = parts.SessionLog(status=parts.SessionLog.START)
            self.writer.write_event(
                parts.Event(wall_time=time.time(), step=purge_step, session_log=start)
            )

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        summary = self.parts.scalar(tag, value)
        self.writer.write_event(self.parts.Event(wall_time=time.time(), step=step, summary=summary))

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def point_name(point: dict[str, Any]) -> str:
    """A folder name for one swept point, e.g. ``agent.lr=0.01,env.drift.rate=0.1``."""
    if not point:
        return "default"
    text = ",".join(f"{key}={value}" for key, value in point.items())
    return re.sub(r"[^A-Za-z0-9_.,=+-]", "_", text)


class TensorBoardTracker:
    """Writes the curves of one experiment, group by group, chunk by chunk."""

    def __init__(self, out_dir: str | Path, num_steps: int, record_every: int):
        self.parts = require_tensorboardx()
        self.folder = Path(out_dir) / FOLDER
        num_recorded = num_steps // record_every
        #: recorded values per written value
        self.stride = max(1, -(-num_recorded // MAX_VALUES))
        self.record_every = record_every
        self.writers: dict[tuple[str, int], Any] = {}

    def _writer(self, label: str, point_index: int, point: dict[str, Any], purge_step: int):
        key = (label, point_index)
        if key not in self.writers:
            logdir = self.folder / point_name({"agent": label}) / point_name(point)
            self.writers[key] = EventFile(
                self.parts, logdir, purge_step + 1 if purge_step else None
            )
        return self.writers[key]

    def write(
        self,
        label: str,
        points: list[dict[str, Any]],
        indices: list[int],
        metrics: dict[str, np.ndarray],
        start_step: int,
    ) -> None:
        """Write the values recorded after ``start_step`` (steps done before this chunk).

        Args:
          label: the agent's label.
          points: every point of the agent; ``indices`` those of this group.
          metrics: name -> ``(group points, seeds, recorded so far)`` arrays.
          start_step: environment steps already written (0, or the resumed step).
        """
        span = self.stride * self.record_every  # environment steps per written value
        for name, values in metrics.items():
            with warnings.catch_warnings():  # points whose seeds all diverged: NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                curves = np.nanmean(values, axis=1)  # (points, recorded)
            num_written = curves.shape[-1] // self.stride
            first = start_step // span
            for row, index in enumerate(indices):
                writer = self._writer(label, index, points[index], start_step)
                blocks = curves[row, : num_written * self.stride].reshape(num_written, -1)
                cumulative = np.cumsum(curves[row]) * self.record_every
                for k in range(first, num_written):
                    step = (k + 1) * span
                    _add_finite(writer, name, blocks[k].mean(), step)
                    if name == "regret":
                        total = cumulative[(k + 1) * self.stride - 1]
                        _add_finite(writer, "cumulative_regret", total, step)
        for index in indices:  # on disk before the checkpoint: a kill loses no step
            self.writers[(label, index)].flush()

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()
        self.writers.clear()


def _add_finite(writer: EventFile, tag: str, value: float, step: int) -> None:
    """One scalar; a non-finite one (every seed of the point diverged) is left out, so the
    curve stops there instead of drawing NaN."""
    if np.isfinite(value):
        writer.add_scalar(tag, float(value), int(step))
