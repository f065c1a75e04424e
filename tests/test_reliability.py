"""Issue 12: nothing a user's files or settings hold can crash pipeviz, hang it or lock it
out. One or more fast cases per family of the issue (numbered as there); the slow ones, run
from outside through the CLI, the settings file and the cache folder, are in
benchmarks/robustness.py."""
from __future__ import annotations

import gzip
import json
import logging
import os
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import write_idx
from pipeviz.core.config import ConfigError, PipelineConfig, TrainerConfig
from pipeviz.core.idx import IMAGES_MAGIC, LABELS_MAGIC, DataError
from pipeviz.core.state import WorkerState


def dead_pid() -> int:
    """The id of a process that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def finishes(function, timeout: float = 10.0):
    """Run `function` in a thread; (True, its result or exception) if it ended in time."""
    box: list = []

    def run() -> None:
        try:
            box.append(function())
        except BaseException as exc:  # noqa: BLE001 (handed back to the test)
            box.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    return (not thread.is_alive()), (box[0] if box else None)


def cli(capsys, *argv):
    """`pipeviz ARGV` in this process: (exit code, stderr)."""
    from pipeviz.__main__ import main
    try:
        status = main(list(argv))
    except SystemExit as exc:
        status = exc.code
    return status, capsys.readouterr().err


def one_line_error(status, err):
    assert status == 2, err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


# ----- 1. settings that crash or exhaust the machine ------------------------------------
@pytest.mark.parametrize("changes", [
    {"shuffle_buffer": 2_000_000_000}, {"shuffle_buffer": 10**9}, {"parallel_reads": 100_000},
    {"parallel_map": 100_000}, {"prefetch": 10**9}, {"prefetch": "3"}, {"batch_size": 2.5},
    {"storage_latency_ms": "5"}, {"cache": "yes"}])
def test_api_refuses_knobs_beyond_the_machine(changes):
    with pytest.raises(ConfigError, match="out of range|not a valid value"):
        PipelineConfig(**changes)


def test_ranges_follow_the_machine(monkeypatch):
    from pipeviz.core import limits
    monkeypatch.setattr(limits, "cores", lambda: 64)
    assert PipelineConfig(parallel_reads=512).parallel_reads == 512
    monkeypatch.setattr(limits, "cores", lambda: 2)
    with pytest.raises(ConfigError, match="2 cores"):
        PipelineConfig(parallel_reads=512)
    monkeypatch.setattr(limits, "memory_bytes", lambda: 1 << 30)  # 1 GiB: 256k records
    with pytest.raises(ConfigError, match="shuffle_buffer"):
        PipelineConfig(shuffle_buffer=1_000_000)


@pytest.mark.parametrize("changes", [{"max_steps": 10**20}, {"measure_after_step": -5},
                                     {"learning_rate": float("inf")}, {"epochs": "5"}])
def test_trainer_config_refuses_out_of_range(changes):
    with pytest.raises(ConfigError):
        TrainerConfig(**changes)


def ini_settings(tmp_path: Path, text: str):
    from PySide6.QtCore import QSettings
    path = tmp_path / "pipeviz.conf"
    path.write_text(text)
    return QSettings(str(path), QSettings.Format.IniFormat)


def test_settings_file_out_of_range_warns_and_uses_the_default(tmp_path, caplog):
    from pipeviz.gui.settings import load_pipeline_config
    settings = ini_settings(tmp_path, "[pipeline]\nshuffle_buffer=2000000000\n"
                                      "parallel_reads=100000\nprefetch=abc\ncache=perhaps\n"
                                      "batch_size=64\n")
    with caplog.at_level(logging.WARNING):
        config = load_pipeline_config(settings)
    assert config == PipelineConfig(batch_size=64)
    warned = " ".join(r.getMessage() for r in caplog.records)
    for name in ("shuffle_buffer", "parallel_reads", "prefetch", "cache"):
        assert name in warned


def test_cli_out_of_range_is_a_one_line_usage_error(capsys):
    for argv in (["bench", "--steps", str(10**20)], ["bench", "--warmup", "-5"],
                 ["bench", "--batch-size", "0"], ["bench", "--storage-latency-ms", "nan"],
                 ["--train-seconds", "inf"], ["run", "--train-seconds", "-1", "x.py"],
                 ["run", "--screenshot", "shot.txt", "x.py"]):
        one_line_error(*cli(capsys, *argv))


# ----- 2. one bad settings line locks the user out ---------------------------------------
def test_garbage_geometry_and_values_do_not_stop_the_window(tmp_path, qtbot, caplog):
    from pipeviz.core.session import Session
    from pipeviz.gui.settings import load_bool, load_geometry, load_string
    from pipeviz.gui.window import MainWindow
    settings = ini_settings(tmp_path, "[General]\ngeometry=x\nwrite_scalars=maybe\n"
                                      "data_path=a, b\n")
    with caplog.at_level(logging.WARNING):
        assert load_geometry(settings) is None
        assert load_bool(settings, "write_scalars", True) is True
        assert load_string(settings, "data_path") is None
        window = MainWindow(Session(None), settings, defer_plots=True)  # TypeError before
    qtbot.addWidget(window)
    assert "geometry" in caplog.text


# ----- 3. a damaged cache is rebuilt ------------------------------------------------------
@pytest.fixture
def fresh_process_cache(monkeypatch):
    """Forget which caches this process verified, as a new process would."""
    from pipeviz.core import shards
    monkeypatch.setattr(shards, "_verified", set(), raising=False)


def test_flipped_bytes_in_a_shard_rebuild_the_cache(small_data, tmp_path, caplog,
                                                    fresh_process_cache):
    from pipeviz.core import shards
    first = shards.prepare_shards(small_data, tmp_path, num_shards=4)
    victim = Path(first.train_files[1])
    good = victim.read_bytes()
    damaged = bytearray(good)
    damaged[len(good) // 2] ^= 0xFF  # same size, different content
    victim.write_bytes(bytes(damaged))
    getattr(shards, "_verified", set()).clear()  # a new process
    with caplog.at_level(logging.WARNING):
        again = shards.prepare_shards(small_data, tmp_path, num_shards=4)
    assert victim.read_bytes() == good, "the damaged shard was not rebuilt"
    assert again.train_count == first.train_count
    notices = [r for r in caplog.records if "rebuilding" in r.getMessage()]
    assert len(notices) == 1 and "\n" not in notices[0].getMessage()


def test_shard_damaged_after_its_check_is_one_clear_error_and_rebuilds_next_time(
        small_data, tmp_path, step_loop, caplog):
    """Bytes changed while the app runs (after the checksums were checked): the dialog's
    message names the damaged cache without TensorFlow's graph trace, and the next
    preparation rebuilds the cache instead of failing again on every Start."""
    from pipeviz.core.events import ErrorEvent, EventChannel
    from pipeviz.core.shards import prepare_shards
    from pipeviz.core.trainer import Trainer
    shards = prepare_shards(small_data, tmp_path, num_shards=4)
    victim = Path(shards.train_files[0])
    good = victim.read_bytes()
    damaged = bytearray(good)
    damaged[len(good) // 3] ^= 0xFF
    victim.write_bytes(bytes(damaged))
    channel = EventChannel()
    trainer = Trainer(shards, PipelineConfig(), TrainerConfig(epochs=1), channel, loop=step_loop)
    trainer.start()
    assert trainer.join(120) and trainer.state == WorkerState.ERROR
    [error] = [e for e in channel.drain() if isinstance(e, ErrorEvent)]
    assert "is damaged" in error.message and "corrupted record" in error.message
    assert "Graph execution error" not in error.message and "File " not in error.message
    prepare_shards(small_data, tmp_path, num_shards=4)
    assert victim.read_bytes() == good, "the damaged shard was not rebuilt"


@pytest.mark.parametrize("manifest", ["[]", "null", '"x"', "1e999", "wrong count", "bad name",
                                      "[[[[" * 5000], ids=["list", "null", "string", "inf",
                                                           "wrong-count", "bad-name", "deep"])
def test_malformed_manifest_rebuilds_the_cache(small_data, tmp_path, manifest, caplog):
    from pipeviz.core.shards import MANIFEST, prepare_shards
    first = prepare_shards(small_data, tmp_path, num_shards=4)
    path = first.folder / MANIFEST
    if manifest == "wrong count":
        data = json.loads(path.read_text())
        manifest = json.dumps({**data, "train_count": data["train_count"] + 7})
    elif manifest == "bad name":
        data = json.loads(path.read_text())
        manifest = json.dumps({**data, "train_files": ["../../etc/passwd"]})
    path.write_text(manifest)
    with caplog.at_level(logging.WARNING):
        again = prepare_shards(small_data, tmp_path, num_shards=4)
    assert again == first
    assert json.loads(path.read_text())["train_count"] == len(small_data.train_images)
    assert any("rebuilding" in r.getMessage() for r in caplog.records)


def test_stale_temporary_shard_folders_of_dead_processes_are_removed(small_data, tmp_path):
    from pipeviz.core.shards import prepare_shards
    dead = tmp_path / f".mnist-0123456789abcdef-v2-4shards.tmp-{dead_pid()}-0badf00d"
    alive = tmp_path / f".mnist-0123456789abcdef-v2-4shards.tmp-{os.getpid()}-0badf00d"
    for folder in (dead, alive):
        folder.mkdir()
        (folder / "train-00000-of-00004.tfrecord").write_bytes(b"x" * 1000)
    prepare_shards(small_data, tmp_path, num_shards=4)
    assert not dead.exists(), "the dead process's temporary folder is still there"
    assert alive.exists(), "a running process's temporary folder was removed"


# ----- 4. output that cannot be written never stops training -----------------------------
def test_runs_folder_that_cannot_be_made_only_turns_scalars_off(small_shards, step_loop, tmp_path):
    from pipeviz.core.events import EventChannel
    from pipeviz.core.trainer import Trainer
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    trainer = Trainer(small_shards, PipelineConfig(), TrainerConfig(
        epochs=1, max_steps=12, summary_dir=str(blocked / "run"), summary_every=2),
        EventChannel(), loop=step_loop)
    trainer.start()
    assert trainer.join(120)
    assert trainer.state == WorkerState.STOPPED and trainer.global_step == 12, trainer.state


def test_scalars_failing_mid_run_warn_once_and_turn_off(tmp_path, monkeypatch, caplog):
    import tensorflow as tf
    from pipeviz.core.events import EpochSummary
    from pipeviz.core.tboard import ScalarLog
    log = ScalarLog(tmp_path / "run", every=1)

    def full(*args, **kwargs):
        raise tf.errors.ResourceExhaustedError(None, None, "No space left on device")
    monkeypatch.setattr(log._writer, "flush", full)
    summary = EpochSummary(0, 10, 1.0, 0.5, 1.0, 0.5, 1.0, 0.1, 100.0)
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            log.add_epoch(summary)  # raised ResourceExhaustedError before
        log.close(10)
    assert log.failed and "No space left" in log.failed
    assert sum("turned off" in r.getMessage() for r in caplog.records) == 1


def test_a_failed_profile_leaves_no_empty_capture(tmp_path):
    from pipeviz.core.tboard import discard_failed_profile
    capture = tmp_path / "plugins" / "profile" / "2026_01_01_00_00_00"
    capture.mkdir(parents=True)
    (capture / "host.xplane.pb").write_bytes(b"")
    assert discard_failed_profile(tmp_path, time.time() - 5)
    assert not (capture / "host.xplane.pb").exists()


# ----- 5. empty data ----------------------------------------------------------------------
def test_empty_npz_is_a_clear_error(tmp_path):
    from pipeviz.core.datasets import load_path
    np.savez(tmp_path / "empty.npz", x_train=np.zeros((0, 28, 28), np.uint8),
             y_train=np.zeros(0, np.uint8))
    with pytest.raises(DataError, match="no training examples"):
        load_path(tmp_path / "empty.npz")


def test_fewer_examples_than_one_batch_is_refused_before_training(small_shards):
    from dataclasses import replace
    from pipeviz.core.trainer import Trainer
    tiny = replace(small_shards, train_count=20)
    with pytest.raises(ConfigError, match="fewer than one batch"):
        Trainer(tiny, PipelineConfig(batch_size=32))
    trainer = Trainer(small_shards, PipelineConfig(batch_size=32))
    with pytest.raises(ConfigError, match="fewer than one batch"):
        trainer.reconfigure(batch_size=4096)


# ----- 6. bombs and special files ---------------------------------------------------------
def test_gzip_bomb_is_refused_after_reading_only_what_the_header_promises(tmp_path):
    import tracemalloc
    from pipeviz.core.idx import load_idx_pair
    header = struct.pack(">IIII", IMAGES_MAGIC, 10, 28, 28)
    bomb = tmp_path / "train-images-idx3-ubyte.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as out:  # 10 images promised, 200 MB inside
        out.write(header)
        chunk = bytes(1 << 20)
        for _ in range(200):
            out.write(chunk)
    labels = write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(10), LABELS_MAGIC)
    assert bomb.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="more bytes than its header promises"):
            load_idx_pair(bomb, labels)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 << 20, f"read {peak / 2**20:.0f} MB of a 10-image file"


def test_header_promising_more_than_the_machine_holds_is_refused_unread(tmp_path):
    from pipeviz.core.idx import read_idx
    path = tmp_path / "x"
    path.write_bytes(struct.pack(">IIII", IMAGES_MAGIC, 2**32 - 1, 28, 28))
    with pytest.raises(DataError, match="more than this machine can hold"):
        read_idx(path, IMAGES_MAGIC)


def test_npz_bomb_of_the_wrong_shape_is_refused_before_expanding(tmp_path):
    import tracemalloc
    from pipeviz.core.datasets import load_npz
    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, x_train=np.zeros((100_000, 28, 28), np.uint8),  # 78 MB
                        y_train=np.zeros(5, np.uint8))
    assert path.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="one label per image"):
            load_npz(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 << 20, f"expanded {peak / 2**20:.0f} MB before refusing"


@pytest.mark.parametrize("name", ["mnist.npz", "train-images-idx3-ubyte"])
def test_fifo_is_refused_not_waited_on(tmp_path, name):
    from pipeviz.core.datasets import load_path
    fifo = tmp_path / name
    os.mkfifo(fifo)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(10), LABELS_MAGIC)
    target = fifo if name.endswith(".npz") else tmp_path
    try:
        ended, result = finishes(lambda: load_path(target), timeout=5)
    finally:  # release a reader blocked on the FIFO (the unfixed code)
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
    assert ended, "loading a FIFO hung"
    assert isinstance(result, DataError) and "FIFO" in str(result), result


# ----- 7. leftovers after kill -9 -----------------------------------------------------------
def test_stale_keras_temporaries_are_removed_at_the_next_save(tmp_path):
    from pipeviz.core.model import build_model, save_model
    stale = tmp_path / f".m.tmp-{dead_pid()}-0badf00d.keras"
    live = tmp_path / f".m.tmp-{os.getpid()}-0badf00d.keras"  # a save in flight
    stale.write_bytes(b"partial")
    live.write_bytes(b"partial")
    save_model(build_model(), tmp_path / "m.keras")
    assert not stale.exists() and live.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["m.keras", live.name])


def test_interrupted_save_leaves_no_temporary(tmp_path):
    from pipeviz.core.model import build_model, save_model
    model = build_model()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    model.save = interrupted
    with pytest.raises(KeyboardInterrupt):
        save_model(model, tmp_path / "m.keras")
    assert list(tmp_path.iterdir()) == []


# ----- 8. messages, not tracebacks --------------------------------------------------------
def test_bench_path_errors_are_one_line(capsys, tmp_path):
    one_line_error(*cli(capsys, "bench", "--data", "/tmp/" + "a" * 5000, "--steps", "5"))
    one_line_error(*cli(capsys, "bench", "--data", str(tmp_path / "nope"), "--steps", "5"))


def test_bench_with_a_blocked_cache_path_is_one_line(capsys, tmp_path, monkeypatch, small_data):
    npz = tmp_path / "small.npz"
    np.savez(npz, x_train=small_data.train_images, y_train=small_data.train_labels)
    (tmp_path / "blocked").write_text("a file where the cache folder should be")
    monkeypatch.setenv("PIPEVIZ_CACHE_DIR", str(tmp_path / "blocked" / "cache"))
    status, err = cli(capsys, "bench", "--data", str(npz), "--steps", "2", "--configs", "naive")
    one_line_error(status, "\n".join(line for line in err.splitlines() if not line.startswith("INFO ")))
    assert "Not a directory" in err


@pytest.mark.parametrize("labels,match", [
    (np.array([0.0, 2.5, 3.0]), "not whole numbers"), (np.array([0.0, np.nan, 3.0]), "not whole numbers"),
    (np.array(["1", "2", "3"]), "dtype <U1")])
def test_labels_that_are_not_whole_numbers_are_refused(tmp_path, labels, match):
    from pipeviz.core.datasets import load_npz
    np.savez(tmp_path / "m.npz", x_train=np.zeros((3, 28, 28), np.uint8), y_train=labels)
    with pytest.raises(DataError, match=match):
        load_npz(tmp_path / "m.npz")


def test_string_labels_in_the_keras_cache_skip_that_source(tmp_path, monkeypatch):
    from pipeviz.core.datasets import find_data
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    (tmp_path / "keras" / "datasets").mkdir(parents=True)
    np.savez(tmp_path / "keras" / "datasets" / "mnist.npz",
             x_train=np.zeros((3, 28, 28), np.uint8), y_train=np.array(["1", "2", "3"]))
    data = find_data(allow_download=False, cache_dir=tmp_path / "cache")
    assert data.source.synthetic


def test_screenshot_into_a_missing_folder_is_a_usage_error(capsys, tmp_path):
    one_line_error(*cli(capsys, "--screenshot", str(tmp_path / "missing" / "shot.png")))


def test_bad_data_logs_no_traceback_and_reaches_the_window_as_one_event(tmp_path, caplog):
    """The loader logs one line without a traceback (not --verbose); the ErrorEvent takes
    the message to the window, whose dialog logs it once (see the robustness benchmark)."""
    from pipeviz.core.events import ErrorEvent
    from pipeviz.core.session import Session
    session = Session(tmp_path / "nope.npz", cache_dir=tmp_path / "cache")
    with caplog.at_level(logging.INFO, logger="pipeviz"):
        logging.getLogger().setLevel(logging.WARNING)  # not --verbose
        session._prepare(threading.Event())
    failures = [r for r in caplog.records if "nope.npz" in r.getMessage()]
    assert len(failures) == 1 and failures[0].exc_info is None
    assert [e for e in session.channel.drain() if isinstance(e, ErrorEvent)]


def test_ctrl_c_in_the_first_second_prints_no_traceback(tmp_path):
    from conftest import app_env
    for delay in (0.3, 0.9):
        proc = subprocess.Popen([sys.executable, "-m", "pipeviz"], env=app_env(tmp_path),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        assert "Traceback" not in err and "KeyboardInterrupt" not in err, err


# ----- 9. the reliable lane coalesces ConfigApplied -----------------------------------------
def test_reconfiguration_storm_drops_nothing_from_the_reliable_lane():
    from pipeviz.core.events import ConfigApplied, EpochSummary, EventChannel, StateChanged
    channel = EventChannel(reliable_capacity=64)
    channel.put(StateChanged(WorkerState.RUNNING))
    for i in range(3000):  # the GUI thread frozen: nothing drained
        name = "prefetch" if i % 2 else "cache"
        channel.put(ConfigApplied(i + 1, float(i), PipelineConfig(prefetch=i % 7), (name,)))
    channel.put(EpochSummary(0, 3000, 1, 1, 1, 1, 1, 0, 1))
    channel.put(ConfigApplied(3001, 1.0, PipelineConfig(prefetch=5), ("prefetch",)))
    assert channel.dropped == 0
    events = channel.drain()
    applied = [e for e in events if isinstance(e, ConfigApplied)]
    assert [type(e).__name__ for e in events] == ["StateChanged", "ConfigApplied",
                                                  "EpochSummary", "ConfigApplied"]
    assert applied[0].step == 3000 and applied[0].config.prefetch == 2999 % 7
    assert set(applied[0].changed) == {"prefetch", "cache"}
