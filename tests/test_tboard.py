"""TensorBoard scalars and profiler captures in a run folder."""
from pipeviz.core.config import PipelineConfig, TrainerConfig
from pipeviz.core.events import EventChannel, ProfileCaptured

from conftest import wait_until
from pipeviz.core.state import WorkerState


def test_training_writes_scalars_and_captures_a_profile(small_shards, step_loop, tmp_path):
    from pipeviz.core.tboard import EPOCH_TAGS, STEP_TAGS, profile_files, read_scalars
    from pipeviz.core.trainer import Trainer

    channel = EventChannel(lossy_capacity=10_000)
    trainer = Trainer(small_shards, PipelineConfig(), TrainerConfig(
        epochs=1, summary_dir=str(tmp_path), summary_every=10), channel, loop=step_loop)
    trainer.start()
    assert wait_until(lambda: trainer.global_step >= 4, 60)
    trainer.capture_profile(str(tmp_path), steps=8)
    assert trainer.join(120) and trainer.state == WorkerState.FINISHED
    captured = [e for e in channel.drain() if isinstance(e, ProfileCaptured)]
    assert len(captured) == 1 and not captured[0].error and captured[0].steps >= 8
    assert profile_files(tmp_path), "no .xplane.pb capture for TensorBoard's profile tab"
    scalars = read_scalars(tmp_path)
    assert set(STEP_TAGS) | set(EPOCH_TAGS) <= set(scalars)
    steps = [s for s, _ in scalars["loss"]]
    assert steps == sorted(steps) and steps[-1] == trainer.global_step
    # a point at the end of each call that brings the steps since the last one to 10 or more
    calls_end = {first + size - 1 for first, size in trainer.recent_calls}
    assert set(steps) <= calls_end
    gaps = [b - a for a, b in zip([0, *steps], steps)]
    assert all(10 <= gap < 10 + TrainerConfig().steps_per_execution for gap in gaps[:-1]), gaps
    history = trainer.history[0]
    assert scalars["epoch/val_accuracy"] == [(1, __import__("pytest").approx(history.val_accuracy))]
    assert all(0 <= v <= 1 for _, v in scalars["idle_fraction"])


def test_an_unwritable_runs_folder_does_not_stop_training(small_shards, tmp_path):
    from pipeviz.core.session import Session
    blocker = tmp_path / "file"
    blocker.write_text("a file where the runs folder should be")
    session = Session(runs_root=blocker / "runs")
    session.shards = small_shards  # as if prepared
    session.trainer_config = session.trainer_config.__class__(epochs=1, max_steps=8)
    session.start()
    try:
        assert session.trainer.join(120) and session.trainer.state == WorkerState.STOPPED
        assert session.trainer.global_step == 8 and session.run_dir is None
    finally:
        session.close()
