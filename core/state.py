"""The one set of lifecycle states the worker threads report and the window reads.

A `str` enum, so a state still compares equal to its plain name ("running"), prints as it
(logs, status texts) and travels in `StateChanged` unchanged.
"""
from __future__ import annotations

from enum import Enum


class _Named(str, Enum):
    """A `str` enum that prints and formats as its plain value ("running", "reset")."""

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


class WorkerState(_Named):
    """Session and trainer states: the data is `PREPARING` then `READY` (or `ERROR`); a
    training run is `IDLE` until its thread starts, then `RUNNING`/`PAUSED`, and ends
    `STOPPED`, `FINISHED` or `ERROR`."""

    IDLE = "idle"
    PREPARING = "preparing"
    READY = "ready"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    FINISHED = "finished"
    ERROR = "error"

    @property
    def training(self) -> bool:
        """A run that is under way (the model's weights may still change)."""
        return self in (WorkerState.IDLE, WorkerState.RUNNING, WorkerState.PAUSED)

    @property
    def active(self) -> bool:
        """The worker's thread is training or paused: Pause and Stop apply."""
        return self in (WorkerState.RUNNING, WorkerState.PAUSED)

    @property
    def ended(self) -> bool:
        """A training run is over (nothing animates any more)."""
        return self in (WorkerState.STOPPED, WorkerState.FINISHED, WorkerState.ERROR)


class SessionAction(_Named):
    """What a `Session` does off the caller's thread, reported by an `ActionDone` event."""

    RESET = "reset"
    LOAD_MODEL = "load model"
    SAVE_MODEL = "save model"
    CHANGE_DATA = "change data"
    SWEEP = "experiment"
