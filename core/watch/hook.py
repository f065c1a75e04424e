"""How a watched script's training is seen: `keras.Model.fit` patched in the child.

`install(sender)` replaces `keras.Model.fit` with `_watched_fit`, which, around the user's
own call: appends the request stamp to a `tf.data.Dataset` input, wraps the model's
`train_step` with the step stamps (stamps.py), wraps the train function Keras makes so the
running iterator can be read (stages.py), adds a callback for epochs, and starts a reader
thread that turns stamp rows into `StepEvent`s and samples the stages. After `fit` returns
(or raises) everything is put back, so a second `fit` is watched the same way and the
model is left as the script made it.
"""
from __future__ import annotations

import importlib.abc
import inspect
import logging
import math
import sys
import threading
import time
import weakref
from collections import deque

from ..events import StepEvent
from .events import EpochLogs, FitEnded, FitStarted, StagesSampled, StepMetrics

log = logging.getLogger(__name__)

READ_EVERY_S = 0.2
"""How often the reader thread reads new step rows and the latest logs."""
STAGES_EVERY_S = 0.5
"""How often the running iterator's tf.data model is read (0.1 ms a read)."""

_watcher: "Watcher | None" = None


def current() -> "Watcher | None":
    return _watcher


def install(sender, when_imported: bool = False) -> "Watcher":
    """Patch `keras.Model.fit` so every fit in this process is watched and sent.

    `when_imported` (`pipeviz run`'s child): if keras is not imported yet, patch it the
    moment the script imports it (TensorFlow's import does), not before the script runs: a
    script that fails, or never trains, before it imports TensorFlow is not made to wait
    for TensorFlow's start-up (4 s here)."""
    global _watcher
    _watcher = Watcher(sender)
    if when_imported and "keras" not in sys.modules:
        sys.meta_path.insert(0, _PatchFitOnImport())
    else:
        import keras

        _patch_fit(keras)
    return _watcher


def _patch_fit(keras) -> None:
    original = keras.Model.fit
    if getattr(original, "_pipeviz_original", None) is not None:
        return
    signature = inspect.signature(original)

    def _watched_fit(self, *args, **kwargs):
        watcher = _watcher
        if watcher is None or watcher.busy:  # not watching, or a fit inside a fit
            return original(self, *args, **kwargs)
        bound = signature.bind(self, *args, **kwargs)
        return watcher.fit(self, original, bound.arguments)

    _watched_fit._pipeviz_original = original
    _watched_fit.__doc__ = original.__doc__
    keras.Model.fit = _watched_fit


class _PatchFitOnImport(importlib.abc.MetaPathFinder):
    """An import hook: keras is found and loaded as usual (by the finders after this one),
    and its `Model.fit` is patched as its import completes, before the script's next line.
    TensorFlow asks for keras's spec several times before it imports it, so the hook stays
    until the import it wrapped has run."""

    def find_spec(self, name, path=None, target=None):
        if name != "keras":
            return None
        spec = next((found for found in (_find(f, name, path, target) for f in sys.meta_path
                                         if f is not self) if found is not None), None)
        loader = getattr(spec, "loader", None)
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        exec_module = loader.exec_module

        def exec_then_patch(module) -> None:
            exec_module(module)
            _remove_finders()
            try:
                _patch_fit(module)
            except Exception:  # noqa: BLE001  an unknown keras: train unwatched, not fail
                log.warning("pipeviz could not watch keras Model.fit", exc_info=True)

        loader.exec_module = exec_then_patch
        return spec


def _find(finder, name, path, target):
    find = getattr(finder, "find_spec", None)
    return None if find is None else find(name, path, target)


def _remove_finders() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _PatchFitOnImport)]


def uninstall() -> None:
    """Put `keras.Model.fit` back (tests, and `pipeviz.watch` users who want it off)."""
    global _watcher
    _remove_finders()
    if _watcher is not None:
        _watcher.stop_reader()
    _watcher = None
    keras = sys.modules.get("keras")
    if keras is None:
        return
    original = getattr(keras.Model.fit, "_pipeviz_original", None)
    if original is not None:
        keras.Model.fit = original


def finish() -> None:
    """The script ended: nothing more to read."""
    if _watcher is not None:
        _watcher.stop_reader()


def steps_run() -> int:
    return _watcher.steps if _watcher is not None else 0


class Watcher:
    """One per process: the clocks of the models it has seen and the reader of their rows."""

    def __init__(self, sender):
        self.sender = sender
        self.steps = 0
        self._fit: FitWatch | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._clocks: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
        self.loop_state: dict = {}
        """A custom loop's running state (loop.py): when it started, its last step's end."""

    def clock_for(self, model):
        from .stamps import StepClock

        clock = self._clocks.get(model)
        if clock is None:
            clock = self._clocks[model] = StepClock()
        return clock

    def fit(self, model, original, arguments: dict):
        fit = FitWatch(self, model, self.clock_for(model), arguments)
        with self._lock:
            self._fit = fit
        self._start_reader()
        try:
            fit.before()
            return original(**arguments)
        finally:
            with self._lock:
                self._fit = None
            fit.after()

    @property
    def busy(self) -> bool:
        """A fit is being watched (a fit inside it, or in another thread, runs unwatched)."""
        return self._fit is not None

    def _start_reader(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._read_loop, name="pipeviz-reader",
                                            daemon=True)
            self._thread.start()

    def _read_loop(self) -> None:
        while not self._stop.wait(READ_EVERY_S):
            with self._lock:
                fit = self._fit
                if fit is not None:
                    try:
                        fit.read()
                    except Exception:  # noqa: BLE001  never break the user's training
                        log.debug("pipeviz could not read the step stamps", exc_info=True)

    def stop_reader(self) -> None:
        self._stop.set()


class FitWatch:
    """One `fit` call: its set-up and undoing, and the reading of its rows and stages."""

    def __init__(self, watcher: Watcher, model, clock, arguments: dict):
        self.watcher, self.model, self.clock, self.arguments = watcher, model, clock, arguments
        self.started = time.time()
        """When the script called fit: pipeviz's own set-up is in the first step's
        between time, so the figures cover fit's whole wall clock."""
        self.sender = watcher.sender
        self.dataset = None
        self.written = None
        self.iterator_ref = None
        self.latest_logs = None
        self.last_trained = 0.0
        self.last_epoch = -1
        self.epoch_started = 0.0
        self.next_stage_read = 0.0
        self.latest_stages: tuple = ()
        self.step_ends: deque[float] = deque(maxlen=51)
        """The last steps' ends: their median step is the stall watch's yardstick."""
        self.workers = None
        self.stall_watch = None
        self._undo: list = []

    # set-up and undoing, in the training thread
    def before(self) -> None:
        import tensorflow as tf

        from .loop import WatchedDataset

        x = self.arguments.get("x")
        if isinstance(x, WatchedDataset):
            x = self.arguments["x"] = x.dataset
        if isinstance(x, tf.data.Dataset):
            self.dataset = x
            self.arguments["x"] = self.clock.stamp_requests(x)
        self._wrap_model()
        self._add_callback()
        self._undo.append(self._stop_stall_watch)
        self.last_trained = self.epoch_started = self.started
        self.sender.send(FitStarted(self.started, self.arguments.get("epochs"),
                                    self.arguments.get("steps_per_epoch"),
                                    "in-graph" if self.dataset is not None else
                                    "in-graph, no request stamp (not a tf.data input)"))

    def _read_written(self) -> None:
        """The pipeline as written, read once, in the reader thread: serializing the
        dataset's graph copies its constants (in-memory data: 0.3 s for 39 MB here), which
        the training thread must not wait for. Then the stall watch can start."""
        if self.written is not None or self.dataset is None:
            return
        self.written = written_stages_of(self.dataset) or []
        self._watch_for_stalls()

    def _watch_for_stalls(self) -> None:
        """Say when no step comes for long (a dead tf.data service worker makes the step
        wait forever, silently) and where the input is stuck."""
        from .service import ServiceWorkers, StallWatch, median_step_s

        if any(w.kind == "data service" for w in self.written):
            self.workers = ServiceWorkers()
        self.stall_watch = StallWatch(
            lambda: self.last_trained, self.written, self.sender.send,
            step_s=lambda: median_step_s(self.step_ends),
            stages=lambda: self.latest_stages)
        self.stall_watch.start()

    def _stop_stall_watch(self) -> None:
        if self.stall_watch is not None:
            self.stall_watch.stop()

    def _wrap_model(self) -> None:
        model = self.model
        had_step = "train_step" in vars(model)
        original_step = model.train_step
        xla = bool(getattr(model, "_jit_compile", None) and model.jit_compile)
        model.train_step = self.clock.wrap_train_step(model, original_step, xla=xla)
        if xla:  # XLA cannot compile the clock: the step alone is compiled, inside
            model._jit_compile = False
        make = model.make_train_function
        fit = self

        def make_train_function(force=False):
            make(force)
            inner = model.train_function
            if not getattr(inner, "_pipeviz", False):
                def train_function(iterator):
                    fit.iterator_ref = _ref(iterator)
                    logs = inner(iterator)
                    fit.latest_logs = logs
                    return logs
                train_function._pipeviz = True
                model.train_function = train_function
            return model.train_function

        model.make_train_function = make_train_function
        model.train_function = None  # made again, from the wrapped step

        def undo() -> None:
            if xla:
                model._jit_compile = True
            del model.make_train_function
            if had_step:
                model.train_step = original_step
            else:
                del model.train_step
            model.train_function = None

        self._undo.append(undo)

    def _add_callback(self) -> None:
        callbacks = self.arguments.get("callbacks")
        marker = _epoch_marker(self)
        if callbacks is None:
            self.arguments["callbacks"] = [marker]
        elif hasattr(callbacks, "append") and not isinstance(callbacks, tuple):
            if isinstance(callbacks, list):
                self.arguments["callbacks"] = [*callbacks, marker]
            else:  # a keras CallbackList
                callbacks.append(marker)
        else:
            self.arguments["callbacks"] = [*callbacks, marker]

    def after(self) -> None:
        """The last rows and stages first (reading them may start the stall watch), then
        every patch undone, the stall watch stopped."""
        try:
            self.read(final=True)
        except Exception:  # noqa: BLE001
            log.debug("pipeviz could not read the last stamps", exc_info=True)
        for undo in reversed(self._undo):
            try:
                undo()
            except Exception:  # noqa: BLE001
                log.debug("pipeviz could not undo a patch", exc_info=True)
        now = time.time()
        self.sender.send(FitEnded(now, max(0.0, now - self.last_trained)))

    # reading, in the reader thread (and once more at the end, in the training thread)
    def read(self, final: bool = False) -> None:
        rows = self.clock.new_rows()
        for row in rows:
            self._send_step(row)
        logs = self.latest_logs
        if logs is not None and len(rows):
            self.sender.send(StepMetrics(self.watcher.steps, max(self.last_epoch, 0),
                                         _floats(logs)))
        now = time.time()
        if final or now >= self.next_stage_read:
            self.next_stage_read = now + STAGES_EVERY_S
            self._sample_stages()

    def _send_step(self, row) -> None:
        t_requested, t_taken, t_trained, batch_size, loss, epoch = (float(v) for v in row)
        t_requested = max(t_requested, self.last_trained)  # no request stamp: none before
        gap = max(0.0, t_requested - self.last_trained)
        new_epoch = int(epoch) != self.last_epoch
        self.watcher.steps += 1
        self.sender.send(StepEvent(
            step=self.watcher.steps, epoch=int(epoch), batch_size=int(batch_size),
            loss=loss, accuracy=math.nan,
            input_wait_s=max(0.0, t_taken - t_requested), compute_s=max(0.0, t_trained - t_taken),
            host_s=0.0 if new_epoch else gap, between_s=gap if new_epoch else 0.0,
            wall_s=max(0.0, t_trained - self.last_trained), t_loaded=0.0, t_normalized=0.0,
            t_enqueued=0.0, t_requested=t_requested, t_taken=t_taken, t_trained=t_trained))
        self.step_ends.append(t_trained)
        self.last_trained, self.last_epoch = t_trained, int(epoch)

    def _sample_stages(self) -> None:
        self._read_written()
        iterator = self.iterator_ref() if self.iterator_ref is not None else None
        if not self.written or iterator is None:
            return
        from .stages import read_stages

        # per batch: the batches this iterator delivered (its root's count; Keras makes an
        # iterator per epoch, and tf.data's model covers that one only)
        sample = read_stages(iterator, self.written,
                             workers=self.workers.count if self.workers else None)
        if isinstance(sample, StagesSampled):
            self.latest_stages = sample.stages
            self.sender.send(sample)

    # called by the epoch callback, in the training thread
    def epoch_begins(self, epoch: int) -> None:
        self.clock.epoch.assign(epoch)
        self.epoch_started = time.time()

    def epoch_ends(self, epoch: int, logs) -> None:
        self.sender.send(EpochLogs(epoch, _floats(logs or {}), time.time() - self.epoch_started))


def _epoch_marker(fit: FitWatch):
    import keras

    class PipevizEpochs(keras.callbacks.Callback):
        """Marks epochs in the stamps and sends each epoch's logs; no batch hooks, so Keras
        keeps running its steps without waiting for callbacks."""

        def on_epoch_begin(self, epoch, logs=None):
            fit.epoch_begins(epoch)

        def on_epoch_end(self, epoch, logs=None):
            fit.epoch_ends(epoch, logs)

    return PipevizEpochs()


def _floats(logs) -> dict[str, float]:
    values = {}
    for key, value in dict(logs).items():
        try:
            values[str(key)] = float(value)
        except (TypeError, ValueError):
            continue
    return values


def _ref(obj):
    try:
        return weakref.ref(obj)
    except TypeError:
        return lambda: obj


def written_stages_of(dataset):
    """The pipeline as written (stages.written_stages), or None if it cannot be read."""
    try:
        from .stages import written_stages
    except ImportError:
        return None
    try:
        return written_stages(dataset)
    except Exception:  # noqa: BLE001  an odd dataset must not stop the user's training
        log.debug("pipeviz could not read the dataset's graph", exc_info=True)
        return None
