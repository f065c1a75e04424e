"""One app session: find and shard the data off the caller's thread, then train on demand.

This is what a front end holds. It imports TensorFlow only in its background thread, so a
window can appear at once; everything it reports goes through the `EventChannel`.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
import time
from pathlib import Path
from typing import Any

from .config import PipelineConfig, TrainerConfig, check_batch_fits
from .events import ErrorEvent, EventChannel, Progress, StateChanged
from .priority import lower_this_thread, workers_yield_to_gui
from .safeio import log_failure
from .shards import Cancelled

log = logging.getLogger(__name__)

PREPARING, READY = "preparing", "ready"


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
        second run does not trace again. Made on the first Start unless given."""
        self.predictor = None
        self._model_file: str | None = None  # set while predicting with a loaded file
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
            self.channel.put(StateChanged("error", str(exc)))

    @staticmethod
    def _check_cancelled(cancel: threading.Event) -> None:
        if cancel.is_set():
            raise Cancelled("preparing the data was cancelled")

    def change_data(self, path: str | Path) -> None:
        """Prepare another data source (training must be stopped first)."""
        if self.training:
            raise RuntimeError("stop training before changing the data")
        if self._loader is not None:  # the old source is no longer wanted: it gives up at
            self._cancel_loader.set()  # its next check and reports nothing (not waited for:
            # a slow read must not block the caller, the GUI thread)
        self.data_path, self.shards = path, None
        self.prepare()

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
        """What the predictions come from: a file name, or an untrained/training/trained model."""
        if self._model_file:
            return self._model_file
        if self.trainer is None:
            return "untrained"
        return "training" if self.trainer.state in ("idle", "running", "paused") else "trained"

    def load_model(self, path: str | Path) -> None:
        """Use a saved `.keras` model for predictions (stops any training first).
        Raises ModelFileError with a clear message on a bad file."""
        from .model import load_model

        model = load_model(path)
        self.stop_training()
        self._use_model(model, Path(path).name)

    def save_model(self, path: str | Path) -> Path:
        from .model import save_model

        if self.predictor is None:
            raise RuntimeError("there is no model yet: wait until the data is loaded")
        return save_model(self.predictor.model, path)

    # ----- training ------------------------------------------------------------------
    def start(self) -> None:
        """Start a new training run (a fresh model) with the current pipeline config."""
        from .steploop import StepLoop
        from .trainer import Trainer

        if not self.ready:
            raise RuntimeError("the data is not ready yet")
        if self.sweeping:
            raise RuntimeError("an experiment is running: cancel it before training")
        if not self.stop_training() or self.step_loop is None:
            # (a worker that has not stopped may still be using the old loop's model)
            self.step_loop = StepLoop(seed=self.trainer_config.seed,
                                      learning_rate=self.trainer_config.learning_rate)
        self._predict_with_fresh_loop_model()
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
        return self.trainer is not None and self.trainer.is_alive()

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
        """Stop training and start over from an untrained model (the knobs stay)."""
        stopped = self.stop_training()
        self.trainer = None
        if not self.ready:
            return
        if stopped and self.step_loop is not None:  # the seed's initial weights, no new trace
            self._predict_with_fresh_loop_model()
        else:
            self._use_model(None)

    # ----- experiments ---------------------------------------------------------------
    def run_sweep(self, names: tuple[str, ...] | None = None, steps: int = 150,
                  warmup: int = 12):
        """Stop training and measure each named config (presets and "custom", the current
        knobs) for `steps` steps, one after another, in a worker thread. Presets take batch
        size, shuffle buffer and storage latency from the current knobs."""
        from .experiment import SWEEP_NAMES, Sweep, SweepPlan

        if not self.ready:
            raise RuntimeError("the data is not ready yet")
        if self.sweeping:
            raise RuntimeError("an experiment is already running")
        self.stop_training()
        sweep_dir = self._scalars_dir("sweep")
        summary_root = str(sweep_dir) if sweep_dir is not None else None
        plan = SweepPlan(tuple(names or SWEEP_NAMES), steps, warmup, self.pipeline_config,
                         self.trainer_config.seed, summary_root)
        if self.sweep is not None:  # finished (not sweeping): its traced loop is free
            self._sweep_loop = self.sweep.loop
        self.sweep = Sweep(self.shards, plan, self.channel, loop=self._sweep_loop)
        self.sweep.start()
        return self.sweep

    @property
    def sweeping(self) -> bool:
        return self.sweep is not None and self.sweep.is_alive()

    def cancel_sweep(self, timeout: float = 5.0) -> bool:
        if self.sweep is None:
            return True
        self.sweep.cancel()
        return self.sweep.join(timeout)

    def stop_training(self, timeout: float = 5.0) -> bool:
        if self.trainer is None:
            return True
        self.trainer.stop()
        return self.trainer.join(timeout)

    def close(self, timeout: float = 5.0) -> bool:
        """Stop training, cancel a sweep and the data preparation, then wait for them all
        within one `timeout`; True if every thread ended."""
        deadline = time.monotonic() + timeout
        self._cancel_loader.set()
        workers = [w for w in (self.trainer, self.sweep) if w is not None]
        if self.trainer is not None:
            self.trainer.stop()
        if self.sweep is not None:
            self.sweep.cancel()
        threads_done = [w.join(max(0.0, deadline - time.monotonic())) for w in workers]
        if self._loader is not None:
            if not self.importing_tensorflow:
                self._loader.join(max(0.0, deadline - time.monotonic()))
            threads_done.append(not self._loader.is_alive())
        return all(threads_done)
