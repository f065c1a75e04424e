"""A custom training loop, watched: `for batch in pipeviz.watch(model, dataset): ...`.

A custom loop's step is the script's own function, so nothing can be put inside it; the
stamps are taken at the watched iterator instead: *requested* as the loop asks for the next
batch, *taken* as it gets it. The time inside `next()` is the input wait; the time from a
batch's arrival to the next request is the step (counted as compute: on a CPU, or when the
loop reads a result such as the loss, the step's work is done by then; on an accelerator
without such a read part of it may fall into the next wait). `FitStarted.how` says so.
"""
from __future__ import annotations

import functools
import math
import time

from ..events import StepEvent
from .events import FitEnded, FitStarted, StagesSampled

HOW = "python: timed at the watched iterator (a custom loop)"


class WatchedDataset:
    """Iterate it in Python (an eager loop); `model.fit` accepts it too (it is unwrapped
    and stamped in the graph)."""

    def __init__(self, dataset, watcher):
        self.dataset = dataset
        self._watcher = watcher
        self._epoch = -1

    @functools.cached_property
    def written(self):
        """The pipeline as written, read once (serializing an in-memory dataset copies its
        data: not again at every epoch)."""
        from .hook import written_stages_of

        return written_stages_of(self.dataset)

    def __iter__(self):
        self._epoch += 1
        return WatchedIterator(self, self._epoch)

    def __len__(self):
        return len(self.dataset)

    def __getattr__(self, name):  # the dataset's own API (element_spec, cardinality, ...)
        return getattr(self.dataset, name)


class WatchedIterator:
    def __init__(self, owner: WatchedDataset, epoch: int):
        self._owner, self.epoch = owner, epoch
        self._watcher = owner._watcher
        self._sender = self._watcher.sender
        loop = self._watcher.loop_state
        if loop.get("started") is None:  # before the iterator is made: its making (and the
            loop["started"] = loop["last_end"] = time.time()  # first read of the pipeline)
            self._sender.send(FitStarted(loop["started"], how=HOW))  # is the first between
        self._iterator = iter(owner.dataset)
        self._written = owner.written
        self._previous: tuple[float, float, int] | None = None  # (requested, taken, size)
        self._next_stages = 0.0
        self._new_epoch = True

    def __iter__(self):
        return self

    def __next__(self):
        requested = time.time()
        self._close_step(requested)
        try:
            batch = next(self._iterator)
        except StopIteration:  # the time it took to find the end is between steps
            loop, now = self._watcher.loop_state, time.time()
            self._sender.send(FitEnded(now, max(0.0, now - loop["last_end"])))
            loop["last_end"] = now
            raise
        self._previous = (requested, time.time(), _batch_size(batch))
        if requested >= self._next_stages:
            self._next_stages = requested + 0.5
            self._sample_stages()
        return batch

    def _close_step(self, now: float) -> None:
        """The previous batch's step ended when the loop asked for this one."""
        if self._previous is None:
            return
        requested, taken, size = self._previous
        loop = self._watcher.loop_state
        gap = max(0.0, requested - loop["last_end"])
        self._watcher.steps += 1
        self._sender.send(StepEvent(
            step=self._watcher.steps, epoch=self.epoch, batch_size=size, loss=math.nan,
            accuracy=math.nan, input_wait_s=taken - requested, compute_s=max(0.0, now - taken),
            host_s=0.0 if self._new_epoch else gap, between_s=gap if self._new_epoch else 0.0,
            wall_s=max(0.0, now - loop["last_end"]), t_loaded=0.0, t_normalized=0.0,
            t_enqueued=0.0, t_requested=requested, t_taken=taken, t_trained=now))
        loop["last_end"] = now
        self._new_epoch = False
        self._previous = None

    def _sample_stages(self) -> None:
        if self._written is None:
            return
        from .stages import read_stages

        try:
            sample = read_stages(self._iterator, self._written)  # per this epoch's batches
        except Exception:  # noqa: BLE001  never break the user's loop
            return
        if isinstance(sample, StagesSampled):
            self._sender.send(sample)


def _batch_size(batch) -> int:
    import tensorflow as tf

    for tensor in tf.nest.flatten(batch):
        shape = getattr(tensor, "shape", None)
        if shape is not None and shape.rank:
            return int(shape[0] or 0)
    return 0
