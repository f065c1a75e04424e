"""Session actions the GUI thread calls return at once, even while a worker is slow to stop;
what they wait for finishes on a helper thread and is reported on the event channel."""
import dataclasses
import threading
import time

import pytest

from conftest import wait_until
from pipeviz.core.events import ActionDone, EventChannel, StateChanged
from pipeviz.core.experiment import SweepFinished
from pipeviz.core.session import ModelMismatch, Session
from pipeviz.core.state import SessionAction, WorkerState

QUICK_S = 0.05
"""A GUI call slower than this would be felt (and a join would take the worker's linger)."""


class SlowToStop:
    """Stands in for a trainer inside a long step call: it ends `linger` seconds after
    stop(), then reports 'stopped' as the trainer does."""

    def __init__(self, channel: EventChannel, linger: float = 1.0):
        self.channel, self.linger = channel, linger
        self.state = WorkerState.RUNNING
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pipeviz-slow-worker")
        self._thread.start()

    def _run(self) -> None:
        self._stop.wait(30)
        time.sleep(self.linger)
        self.state = WorkerState.STOPPED
        self.channel.put(StateChanged(WorkerState.STOPPED))

    def stop(self) -> None:
        self._stop.set()

    cancel = stop

    def join(self, timeout=None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def is_alive(self) -> bool:
        return self._thread.is_alive()


def timed(call, *args, **kwargs) -> float:
    started = time.perf_counter()
    call(*args, **kwargs)
    return time.perf_counter() - started


def action_done(channel: EventChannel, what: SessionAction, timeout: float = 30) -> ActionDone:
    seen = []

    def arrived() -> bool:
        seen.extend(e for e in channel.drain() if isinstance(e, ActionDone) and e.what == what)
        return bool(seen)
    assert wait_until(arrived, timeout), f"no ActionDone({what}) within {timeout} s"
    return seen[0]


@pytest.fixture
def session(small_shards):
    session = Session(channel=EventChannel())
    session.shards = small_shards  # ready, as after preparing
    yield session
    session.close(30)


def test_stop_and_reset_return_at_once_and_report_when_done(session):
    worker = session.trainer = SlowToStop(session.channel)
    asked = time.monotonic()
    assert timed(session.stop_training) < QUICK_S
    assert timed(session.reset) < QUICK_S
    assert session.busy and worker.is_alive()
    with pytest.raises(RuntimeError, match="still stopping"):
        session.start()  # refused at once, not after a wait
    action_done(session.channel, SessionAction.RESET)
    assert time.monotonic() - asked >= 0.9, "the reset finished before the worker had ended"
    assert not worker.is_alive() and session.trainer is None and not session.busy
    assert session.model_origin == "untrained"


def test_load_model_returns_at_once_and_a_bad_file_keeps_training(session, tmp_path):
    from pipeviz.core.model import build_model, save_model
    path = save_model(build_model(), tmp_path / "m.keras")
    junk = tmp_path / "junk.keras"
    junk.write_text("no model")
    worker = session.trainer = SlowToStop(session.channel, linger=0.5)
    assert timed(session.load_model, junk) < QUICK_S
    done = action_done(session.channel, SessionAction.LOAD_MODEL)
    assert "junk.keras" in done.error and worker.is_alive(), "a bad file stopped the run"
    assert timed(session.load_model, path) < QUICK_S
    done = action_done(session.channel, SessionAction.LOAD_MODEL)
    assert not done.error and done.detail == "m.keras" and not worker.is_alive()
    assert session.model_origin == "m.keras" and session.loaded_model_file == "m.keras"


def test_an_experiment_asked_for_while_training_starts_after_the_run_stops(session):
    worker = session.trainer = SlowToStop(session.channel)
    assert timed(session.run_sweep, ("naive",), 20) < QUICK_S
    assert session.sweeping and session.sweep is None, "the sweep waits for the run to stop"
    assert timed(session.cancel_sweep) < QUICK_S
    done = action_done(session.channel, SessionAction.SWEEP)
    assert done.detail == "cancelled" and not worker.is_alive() and session.sweep is None
    assert not session.sweeping


def test_cancelled_pending_sweep_reports_sweep_finished(session):
    session.trainer = SlowToStop(session.channel, linger=0.3)
    session.run_sweep(("naive",), 20)
    session.cancel_sweep()
    finished = []
    assert wait_until(lambda: finished.extend(e for e in session.channel.drain()
                                              if isinstance(e, SweepFinished)) or finished, 10)
    assert finished[0].cancelled, "the experiment panel learns that nothing will run"


def test_change_data_returns_at_once_and_prepares_after_the_run_stops(session, small_data, tmp_path):
    import numpy as np
    npz = tmp_path / "other.npz"
    np.savez(npz, x_train=small_data.train_images, y_train=small_data.train_labels)
    session.cache_dir = tmp_path / "cache"
    worker = session.trainer = SlowToStop(session.channel, linger=0.5)
    assert timed(session.change_data, npz) < QUICK_S
    assert not session.ready, "nothing starts on the old data meanwhile"
    states = []

    def ready() -> bool:
        states.extend(e.state for e in session.channel.drain() if isinstance(e, StateChanged))
        return WorkerState.READY in states
    assert wait_until(ready, 60) and not worker.is_alive()
    assert states[0] == WorkerState.PREPARING and session.ready and session.data_path == npz


def test_start_after_load_model_trains_on_from_the_loaded_weights(session, tmp_path, step_loop):
    import numpy as np
    from pipeviz.core.model import build_model, save_model
    session.step_loop = step_loop
    trained = build_model(seed=7)  # weights unlike the loop's seed-0 start
    path = save_model(trained, tmp_path / "seven.keras")
    session.load_model(path)
    action_done(session.channel, SessionAction.LOAD_MODEL)
    session.set_epochs(1)
    session.trainer_config = dataclasses.replace(session.trainer_config, max_steps=1)
    session.start()
    assert session.trainer.join(60)
    assert session.model_origin == "trained from seven.keras"
    # one step from the loaded weights stays near them; from the fresh model it would not
    start = [np.asarray(w) for w in trained.get_weights()]
    now = session.step_loop.model.get_weights()
    fresh = build_model(seed=0).get_weights()
    assert sum(np.abs(a - b).sum() for a, b in zip(now, start)) < \
        0.5 * sum(np.abs(a - b).sum() for a, b in zip(now, fresh))
    session.reset()
    assert session.model_origin == "untrained" and session.loaded_model_file is None


def test_start_refuses_a_loaded_model_of_another_shape_unless_fresh(session, tmp_path, step_loop):
    from pipeviz.core.model import build_model, save_model
    session.step_loop = step_loop
    path = save_model(build_model(conv_filters=8, dense_units=16), tmp_path / "small.keras")
    session.load_model(path)
    action_done(session.channel, SessionAction.LOAD_MODEL)
    with pytest.raises(ModelMismatch, match="small.keras"):
        session.start()
    assert session.trainer is None
    session.set_epochs(1)
    session.start(fresh=True)
    session.stop_training()
    assert session.trainer.join(60) and session.model_origin == "trained"


def test_preparing_makes_the_step_loop_so_the_first_start_builds_no_model(small_data, tmp_path):
    """Building the model and its optimizer took 0.26 s on the GUI thread at the first
    Start; the preparation's thread does it now."""
    import numpy as np
    npz = tmp_path / "small.npz"
    np.savez(npz, x_train=small_data.train_images, y_train=small_data.train_labels)
    session = Session(npz, cache_dir=tmp_path / "cache", write_scalars=False)
    session.prepare()
    try:
        assert wait_until(lambda: session.ready, 60)
        loop = session.step_loop
        assert loop is not None
        session.set_epochs(1)
        session.start()
        assert session.trainer.loop is loop
    finally:
        session.close(30)
