"""One app session: find and shard the data off the caller's thread, then train on demand.

This is what a front end holds. It imports TensorFlow only in its background thread, so a
window can appear at once; everything it reports goes through the `EventChannel`.

No method a front end calls waits for a worker thread (only `close` does, within its
timeout): an action that needs the trainer or a sweep to end first (reset, load a model,
change the data, an experiment while training) asks it to stop and finishes on a helper
thread, which reports `ActionDone` on the channel.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
import time
from pathlib import Path
from typing import Any

from .config import PipelineConfig, TrainerConfig, check_batch_fits
from .events import ActionDone, ErrorEvent, EventChannel, Progress, StateChanged
from .priority import lower_this_thread, workers_yield_to_gui
from .runsdir import tensorboard_command
from .safeio import log_failure
from .shards import Cancelled
from .state import SessionAction, WorkerState

log = logging.getLogger(__name__)

PREPARING, READY = WorkerState.PREPARING, WorkerState.READY


class ModelMismatch(RuntimeError):
    """A loaded model's layers differ from the model pipeviz trains: training cannot go on
    from it (start a fresh model instead)."""


class Session:
    def __init__(self, data_path: str | Path | None = None, channel: EventChannel | None = None,
                 pipeline_config: PipelineConfig | None = None,
                 trainer_config: TrainerConfig | None = None, cache_dir: Path | None = None,
                 runs_root: Path | None = None, write_scalars: bool = True, step_loop=None,
                 sweep_loop=None):
        workers_yield_to_gui()  # a Session serves a window (core/priority.py)
        self.data_path = data_path
        self.channel = channel if channel is not None else EventChannel()
        self.pipeline_config = pipeline_config or PipelineConfig()
        self.trainer_config = trainer_config or TrainerConfig()
        self.cache_dir = cache_dir
        self.shards = None
        self.source_description = ""
        self.sample_images = None  # a few real held-out digits, for demos and screenshots
        self.normalized_150: float | None = None  # the pipeline's own output for pixel 150
        self.trainer = None
        self.step_loop = step_loop
        """The traced step loop every Start trains (reset to the seed's initial weights): a
        second run does not trace again. Made while the data is prepared (off the GUI
        thread: it builds a model, 0.26 s here) unless given."""
        self.predictor = None
        self._model_file: str | None = None  # set while predicting with a loaded file
        self._continued_from: str | None = None  # the loaded file the current run went on from
        self._job: threading.Thread | None = None  # see _in_background
        self._sweep_pending = False  # an experiment waits for training to stop
        self._closing = threading.Event()
        self._loader: threading.Thread | None = None
        self._cancel_loader = threading.Event()  # preparation gives up at its next check
        self.importing_tensorflow = False
        """True while the loader imports TensorFlow: it cannot be interrupted, so close()
        does not wait for it (the loader gives up right after)."""
        self.sweep = None  # the running or last experiment sweep (core.experiment.Sweep)
        self._sweep_loop = sweep_loop
        """The traced step loop experiments train (their own: a sweep resets its weights, and
        the user's trained model must survive it). Kept from one sweep to the next."""
        self.runs_root = runs_root
        """Where run folders for TensorBoard go (None: $PIPEVIZ_RUNS_DIR or ~/pipeviz-runs)."""
        self.write_scalars = write_scalars
        self.run_dir: Path | None = None
        """The current (or last) run's folder: TensorBoard scalars and profiler captures."""

    # ----- preparation ---------------------------------------------------------------
    def prepare(self) -> None:
        """Load the data and write the shards in a background thread; reports
        StateChanged('preparing'), Progress, then StateChanged('ready') or an ErrorEvent."""
        self._cancel_loader = threading.Event()
        self._loader = threading.Thread(target=self._prepare, args=(self._cancel_loader,),
                                        name="pipeviz-prepare", daemon=True)
        self._loader.start()

    def _prepare(self, cancel: threading.Event) -> None:
        lower_this_thread()  # and TensorFlow's pools, made here, with it (core/priority.py)
        try:
            self.channel.put(StateChanged(PREPARING, "loading TensorFlow and the data"))
            self.importing_tensorflow = True
            from .datasets import find_data
            from .shards import prepare_shards
            from . import trainer  # noqa: F401  (imports TensorFlow here, off the GUI thread)
            from .pipeline import normalized_pixel

            self.importing_tensorflow = False
            self._check_cancelled(cancel)
            data = find_data(self.data_path, cache_dir=self.cache_dir)
            self._check_cancelled(cancel)
            self.normalized_150 = normalized_pixel(150)
            self.source_description = data.source.description
            self.sample_images = (data.val_images[:32], data.val_labels[:32])
            if self.step_loop is None:  # made here, off the GUI thread: the first Start is quick
                from .steploop import StepLoop
                self.step_loop = StepLoop(seed=self.trainer_config.seed,
                                          learning_rate=self.trainer_config.learning_rate)
            self._use_model(None)
            self._check_cancelled(cancel)
            shards = prepare_shards(
                data, self.cache_dir,
                progress=lambda done, total: self.channel.put(Progress("writing shards", done, total)),
                cancelled=cancel.is_set)
            self._check_cancelled(cancel)  # a newer source was asked for meanwhile
            self.shards = shards
            self.channel.put(StateChanged(READY, self.source_description))
        except Cancelled:
            log.info("preparing the data was cancelled")
        except Exception as exc:
            if cancel.is_set():
                return
            log_failure(log, "preparing the data failed", exc, logging.INFO)
            self.channel.put(ErrorEvent(str(exc)))
            self.channel.put(StateChanged(WorkerState.ERROR, str(exc)))

    @staticmethod
    def _check_cancelled(cancel: threading.Event) -> None:
        if cancel.is_set():
            raise Cancelled("preparing the data was cancelled")

    def change_data(self, path: str | Path) -> None:
        """Prepare another data source: stops training and any experiment, then prepares it
        in the background (StateChanged('preparing'), then 'ready'). Returns at once."""
        if self._loader is not None:  # the old source is no longer wanted: it gives up at
            self._cancel_loader.set()  # its next check and reports nothing (not waited for:
            # a slow read must not block the caller, the GUI thread)
        self.shards = None  # not ready: nothing starts on the old data meanwhile
        self.data_path = path
        self.channel.put(StateChanged(PREPARING, f"loading {path}"))
        workers = self._stop_workers(sweep=True)
        if not workers and not self.busy:
            self.prepare()
            return

        def prepare_after_stop() -> str:
            self._wait_for(workers)
            if self.data_path == path:  # (not superseded by a newer change meanwhile)
                self.prepare()
            return str(path)
        self._in_background(SessionAction.CHANGE_DATA, prepare_after_stop)

    @property
    def ready(self) -> bool:
        return self.shards is not None

    def _use_model(self, model, file_name: str | None = None) -> None:
        from .model import build_model
        from .predict import Predictor

        self.predictor = Predictor(model if model is not None else build_model(self.trainer_config.seed))
        self._model_file = file_name

    @property
    def model_origin(self) -> str:
        """What the predictions come from: a file name, or an untrained/training/trained model
        (and the file a run went on from)."""
        if self._model_file:
            return self._model_file
        if self.trainer is None:
            return "untrained"
        word = "training" if self.trainer.state.training else "trained"
        return f"{word} from {self._continued_from}" if self._continued_from else word

    @property
    def loaded_model_file(self) -> str | None:
        """The file the predictions come from (File > Load model), until a run or a reset."""
        return self._model_file

    def load_model(self, path: str | Path) -> None:
        """Use a saved `.keras` model for predictions; a later `start` trains on from it.
        Returns at once: a helper thread reads the file, stops any training (a bad file
        leaves it running) and reports ActionDone(LOAD_MODEL, file name) or the
        ModelFileError's clear message."""
        def load() -> str:
            from .model import load_model

            model = load_model(path)
            self._wait_for(self._stop_workers())
            self._use_model(model, Path(path).name)
            self._continued_from = None
            return Path(path).name
        self._in_background(SessionAction.LOAD_MODEL, load)

    def save_model(self, path: str | Path) -> Path:
        """Save the model the predictions come from, here and now (see `save_model_later`)."""
        if self.predictor is None:
            raise RuntimeError("there is no model yet: wait until the data is loaded")
        from .model import save_model

        return save_model(self.predictor.model, path)

    def save_model_later(self, path: str | Path) -> None:
        """`save_model` on a helper thread (returns at once): ActionDone(SAVE_MODEL, the
        path written) or the reason it could not be written."""
        if self.predictor is None:
            raise RuntimeError("there is no model yet: wait until the data is loaded")
        self._in_background(SessionAction.SAVE_MODEL, lambda: str(self.save_model(path)))

    # ----- training ------------------------------------------------------------------
    def start(self, fresh: bool = False) -> None:
        """Start a training run with the current pipeline config: from the seed's fresh
        model, or, after `load_model` (and unless `fresh`), on from the loaded model's
        weights. Raises RuntimeError while not ready, sweeping or a run is still stopping,
        and ModelMismatch when the loaded model's layers differ from pipeviz's model."""
        from .steploop import StepLoop
        from .trainer import Trainer

        if not self.ready:
            raise RuntimeError("the data is not ready yet")
        if self.sweeping:
            raise RuntimeError("an experiment is running: cancel it before training")
        if self.training or self.busy:
            raise RuntimeError("the last run is still stopping: start again in a moment")
        loaded = None if fresh or not self._model_file else self.predictor.model
        if self.step_loop is None:
            self.step_loop = StepLoop(seed=self.trainer_config.seed,
                                      learning_rate=self.trainer_config.learning_rate)
        if loaded is not None and ([w.shape for w in loaded.get_weights()]
                                   != [w.shape for w in self.step_loop.model.get_weights()]):
            raise ModelMismatch(f"{self._model_file} has other layers than the model pipeviz "
                                "trains: training cannot go on from it")
        continued_from = self._model_file if loaded is not None else None
        self._predict_with_fresh_loop_model()
        if loaded is not None:  # on from the loaded weights (the optimizer starts afresh)
            self.step_loop.model.set_weights(loaded.get_weights())
        self._continued_from = continued_from
        config = self.trainer_config
        run_dir = self._scalars_dir("train")
        if run_dir is not None:
            self.run_dir = run_dir
            config = dataclasses.replace(config, summary_dir=str(run_dir))
        self.trainer = Trainer(self.shards, self.pipeline_config, config, self.channel,
                               loop=self.step_loop)
        self.trainer.start()

    def _predict_with_fresh_loop_model(self) -> None:
        """Reset the step loop to the seed's initial weights (step 0) and predict with its
        model (a loaded model file no longer applies). Only while no worker uses the loop."""
        self.step_loop.reset()
        if self.predictor is None or self.predictor.model is not self.step_loop.model:
            self._use_model(self.step_loop.model)
        self._model_file = None

    @property
    def tensorboard_command(self) -> str:
        """The command that opens this session's run folders (no TensorFlow import)."""
        return tensorboard_command(self.runs_root)

    def _new_run_dir(self, label: str) -> Path:
        from .tboard import new_run_dir
        return new_run_dir(self.runs_root, label)

    def _scalars_dir(self, label: str) -> Path | None:
        """A new run folder for TensorBoard scalars, or None when they are off or the folder
        cannot be made (an unwritable runs folder must not stop training)."""
        if not self.write_scalars:
            return None
        try:
            return self._new_run_dir(label)
        except OSError as exc:
            log.warning("not writing TensorBoard scalars: cannot create a run folder (%s)", exc)
            return None

    def capture_profile(self, steps: int = 20) -> Path:
        """Profile the next `steps` training steps into the run folder (reported by a
        ProfileCaptured event). Raises RuntimeError when nothing is training."""
        if not self.training:
            raise RuntimeError("start training first: the profiler records training steps")
        if self.run_dir is None:
            self.run_dir = self._new_run_dir("train")
        self.trainer.capture_profile(str(self.run_dir), steps)
        return self.run_dir

    @property
    def training(self) -> bool:
        """A training run's thread is alive (running, paused, or still stopping)."""
        return self.trainer is not None and self.trainer.is_alive()

    @property
    def paused(self) -> bool:
        return self.training and self.trainer.state == WorkerState.PAUSED

    def toggle_pause(self) -> None:
        """Pause a running run, resume a paused one (StateChanged reports it)."""
        if not self.training:
            return
        if self.paused:
            self.trainer.resume()
        else:
            self.trainer.pause()

    @property
    def busy(self) -> bool:
        """An action is finishing on a helper thread (see `_in_background`): a new run
        waits for it."""
        return self._job is not None and self._job.is_alive()

    def reconfigure(self, **changes: Any) -> PipelineConfig:
        """Change knobs now (live, if training). Raises ConfigError on a bad value."""
        new = self.pipeline_config.replace(**changes)
        if self.shards is not None:
            check_batch_fits(new.batch_size, self.shards.train_count)
        self.pipeline_config = new
        if self.training:
            self.trainer.reconfigure(self.pipeline_config)
        return self.pipeline_config

    def set_epochs(self, epochs: int) -> None:
        """Epochs to train: for the next run, and live for the running one."""
        self.trainer_config = dataclasses.replace(self.trainer_config, epochs=epochs)
        if self.training:
            self.trainer.set_epochs(epochs)

    def reset(self) -> None:
        """Stop training and start over from an untrained model (the knobs stay). Done at
        once when nothing runs; else on a helper thread once the run has stopped
        (ActionDone(RESET))."""
        workers = self._stop_workers()
        if not workers and not self.busy:
            self._reset_model()
            return

        def reset_after_stop() -> None:
            self._wait_for(workers)
            self._reset_model()
        self._in_background(SessionAction.RESET, reset_after_stop)

    def _reset_model(self) -> None:
        """Predict with the seed's fresh model. (TensorFlow is loaded whenever there is a
        step loop or a loaded model; with neither the predictor is already fresh.)"""
        self.trainer, self._continued_from = None, None
        if self.step_loop is not None:  # the seed's initial weights, no new trace
            self._predict_with_fresh_loop_model()
        elif self._model_file is not None:
            self._use_model(None)

    # ----- experiments ---------------------------------------------------------------
    def run_sweep(self, names: tuple[str, ...] | None = None, steps: int = 150,
                  warmup: int = 12):
        """Stop training and measure each named config (presets and "custom", the current
        knobs) for `steps` steps, one after another, in a worker thread. Presets take batch
        size, shuffle buffer and storage latency from the current knobs."""
        from .experiment import SWEEP_NAMES, Sweep, SweepFinished, SweepPlan

        if not self.ready:
            raise RuntimeError("the data is not ready yet")
        if self.sweeping:
            raise RuntimeError("an experiment is already running")
        names, config, seed = tuple(names or SWEEP_NAMES), self.pipeline_config, self.trainer_config.seed

        def begin() -> str:
            sweep_dir = self._scalars_dir("sweep")
            summary_root = str(sweep_dir) if sweep_dir is not None else None
            plan = SweepPlan(names, steps, warmup, config, seed, summary_root)
            if self.sweep is not None:  # finished (not sweeping): its traced loop is free
                self._sweep_loop = self.sweep.loop
            self.sweep = Sweep(self.shards, plan, self.channel, loop=self._sweep_loop)
            self.sweep.start()
            return ", ".join(names)

        workers = self._stop_workers()
        if not workers and not self.busy:
            begin()
            return self.sweep
        self._sweep_pending = True

        def begin_after_stop() -> str:
            try:
                self._wait_for(workers)
                if not self._sweep_pending or not self.ready:  # cancelled meanwhile
                    self.channel.put(SweepFinished(0, (), True, "", config.storage_latency_ms))
                    return "cancelled"
                return begin()
            finally:
                self._sweep_pending = False
        self._in_background(SessionAction.SWEEP, begin_after_stop)
        return None

    @property
    def sweeping(self) -> bool:
        """An experiment runs, or waits for training to stop before it starts."""
        return self._sweep_pending or (self.sweep is not None and self.sweep.is_alive())

    def cancel_sweep(self) -> bool:
        """Cancel the experiment (SweepFinished reports the end). Returns at once: True if
        nothing runs any more."""
        if self._sweep_pending:
            self._sweep_pending = False
        if self.sweep is None:
            return True
        self.sweep.cancel()
        return not self.sweep.is_alive()

    def stop_training(self) -> bool:
        """Ask the run to stop (StateChanged('stopped') reports it). Returns at once: True
        if nothing trains any more."""
        return not self._stop_workers()

    def _stop_workers(self, sweep: bool = False) -> list:
        """Ask the trainer (and the sweep) to stop; the ones still alive, to wait for off
        the caller's thread."""
        workers = []
        if self.trainer is not None:
            self.trainer.stop()
            workers.append(self.trainer)
        if sweep and self.sweep is not None:
            self.cancel_sweep()
            workers.append(self.sweep)
        return [w for w in workers if w.is_alive()]

    @staticmethod
    def _wait_for(workers: list) -> None:
        """Wait for the workers to end (on a helper thread only)."""
        for worker in workers:
            worker.join()

    def _in_background(self, what: SessionAction, action) -> None:
        """Run `action` on a helper thread after any earlier one (they change the same
        model and data, in the order asked), then report ActionDone(what, its return
        value) or its error on the channel. Skipped once the session is closing."""
        previous = self._job

        def run() -> None:
            if previous is not None:
                previous.join()
            if self._closing.is_set():
                return
            try:
                detail = action()
            except Exception as exc:
                log_failure(log, f"{what} failed", exc, logging.INFO)
                self.channel.put(ActionDone(what, error=str(exc)))
                return
            self.channel.put(ActionDone(what, str(detail or "")))
        self._job = threading.Thread(target=run, name=f"pipeviz-{what.name.lower()}", daemon=True)
        self._job.start()

    def close(self, timeout: float = 5.0) -> bool:
        """Stop training, cancel a sweep and the data preparation, then wait for them all
        within one `timeout`; True if every thread ended."""
        deadline = time.monotonic() + timeout
        self._closing.set()
        self._cancel_loader.set()
        self._sweep_pending = False
        workers = [w for w in (self.trainer, self.sweep) if w is not None]
        if self.trainer is not None:
            self.trainer.stop()
        if self.sweep is not None:
            self.sweep.cancel()
        threads_done = [w.join(max(0.0, deadline - time.monotonic())) for w in workers]
        job = self._job
        if job is not None:
            job.join(max(0.0, deadline - time.monotonic()))
            threads_done.append(not job.is_alive())
        if self._loader is not None:
            if not self.importing_tensorflow:
                self._loader.join(max(0.0, deadline - time.monotonic()))
            threads_done.append(not self._loader.is_alive())
        return all(threads_done)
