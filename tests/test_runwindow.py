"""The `pipeviz run` window shows what a watched script's events say: real event objects go
onto the channel the window's bridge drains, and the tests read the window's words."""
from __future__ import annotations

import time

import pytest

from pipeviz.core.events import EventChannel, StepEvent
from pipeviz.core.watch.events import (EpochLogs, FitStarted, InputStalled, ScriptFinished,
                                       ScriptStarted, Stage, StagesSampled, StepMetrics)
from pipeviz.core.watch.summary import RunSummary

TRACEBACK = ('Traceback (most recent call last):\n'
             '  File "/home/me/train.py", line 12, in <module>\n'
             '    model.fit(ds, epochs=2)\n'
             'ValueError: Input 0 of layer "dense" is incompatible with the layer\n')


class FakeRun:
    """Stands in for ChildRun where only the window's side is tested: records request_stop."""

    def __init__(self):
        self.script, self.args = "/home/me/train.py", ["--epochs", "2"]
        self.stop_requested = False
        self.stop_calls = 0

    def request_stop(self) -> None:
        self.stop_calls += 1
        self.stop_requested = True


def step(i: int, wait: float = 0.012, compute: float = 0.004, host: float = 0.0005,
         loss: float | None = None) -> StepEvent:
    return StepEvent(step=i, epoch=(i - 1) // 20, batch_size=32, loss=2.0 / i if loss is None else loss,
                     accuracy=0.0, input_wait_s=wait, compute_s=compute, host_s=host,
                     wall_s=wait + compute + host, t_loaded=0.0, t_normalized=0.0, t_enqueued=0.0,
                     t_requested=float(i), t_taken=float(i), t_trained=float(i))


STAGES = (  # given out of order: the window draws them by position
    Stage(3, "map", "MapDataset", name="decode", ms_per_batch=11.5, slowest=True),
    Stage(1, "source", "TensorSliceDataset", ms_per_batch=0.2),
    Stage(4, "batch", "BatchDatasetV2", ms_per_batch=None),
    Stage(2, "map", "ParallelMapDatasetV2", parallelism=4, autotuned=True, buffer_size=8,
          buffered=6, ms_per_batch=2.0),
    Stage(5, "prefetch", "PrefetchDataset", autotuned=True, buffer_size=4, buffered=None),
)


def events(steps: int = 40) -> list:
    out = [ScriptStarted("/home/me/train.py", ("--epochs", "2"), 99, 0.0),
           FitStarted(0.0, epochs=2, steps_per_epoch=20)]
    for i in range(1, steps + 1):
        out.append(step(i))
        if i % 5 == 0:
            out.append(StepMetrics(i, (i - 1) // 20, {"loss": 1.0 / i, "accuracy": i / (i + 5)}))
        if i == 10:
            out.append(StagesSampled(1.0, STAGES))
        if i % 20 == 0:
            out.append(EpochLogs((i - 1) // 20, {"loss": 1.0 / i, "accuracy": 0.8,
                                                 "val_loss": 1.2 / i, "val_accuracy": 0.75}, 1.5))
    return out


@pytest.fixture
def run_window(qtbot):
    from pipeviz.gui.runwindow import RunWindow
    run, channel = FakeRun(), EventChannel()
    window = RunWindow(run, channel)
    qtbot.addWidget(window)
    window.show()
    return window, run, channel


def assert_advice_shown(window) -> None:
    """The advice panel shows core/watch/advice.py's advice for the run, in its order, each
    with its predicted gain."""
    from html import escape

    from pipeviz.core.watch.advice import advise
    items = advise(window.summary)
    text = window.advice_label.text()
    assert items, "an input-bound run gets advice"
    positions = [text.index(escape(item.text)) for item in items]
    assert positions == sorted(positions)
    for item in items:
        if item.predicted_gain is not None:
            assert f"Predicted: {item.predicted_gain:+.0%} examples/s" in text


def feed(qtbot, window, channel, items, until) -> None:
    for event in items:
        channel.put(event)
    qtbot.waitUntil(lambda: until(window), timeout=5000)
    qtbot.wait(80)  # a frame after the last event: the window has redrawn from it


def test_header_stages_and_plots_show_the_run(qtbot, run_window):
    from pipeviz.gui.stagediagram import EMPTY_TEXT
    window, _run, channel = run_window
    assert window.state_label.text() == "starting" and window.stages.empty_text == EMPTY_TEXT
    feed(qtbot, window, channel, events(40), lambda w: w.summary.steps == 40)
    expected = RunSummary()
    for event in events(40):
        expected.add(event)
    assert window.command_label.text() == "train.py --epochs 2"
    assert window.state_label.text() == "training · epoch 2 · step 40"
    assert window.verdict_label.text() == expected.verdict == "highly input-bound"
    share = round(100 * 0.012 / 0.0165)
    assert window.share_label.text().startswith(f"{share}% of step time waiting for input")
    boxes = window.stages.box_texts()
    assert [lines[0] for lines in boxes] == ["1 · source", "2 · map", "3 · map", "4 · batch",
                                             "5 · prefetch"]
    marked = [lines[0] for lines in boxes if "SLOWEST" in lines]
    assert marked == ["3 · map"]
    assert boxes[1][1:] == ["(unnamed)", "parallel 4, autotune", "buffer 6/8", "2.0 ms per batch"]
    assert boxes[2][1] == "decode" and "11.5 ms per batch" in boxes[2]
    assert "— ms per batch" in boxes[3] and "0 ms per batch" not in " ".join(boxes[3])
    assert boxes[4][2:4] == ["autotuned", "buffer —/4"]  # a prefetch has no parallelism
    assert boxes[0][2] == boxes[3][2] == "serial" and boxes[3][3] == "— ms per batch"
    x, y = window.plots.loss_raw.getData()
    assert list(x) == list(range(1, 41)) and y[0] == pytest.approx(2.0)
    assert set(window.plots.metric_items) == {"accuracy"}
    mx, _ = window.plots.metric_items["accuracy"].getData()
    assert list(mx) == list(range(5, 41, 5))
    vx, vy = window.plots.val_loss.getData()
    assert list(vx) == [20, 40] and list(vy) == pytest.approx([1.2 / 20, 1.2 / 40])
    assert list(window.plots.epoch_items["val_accuracy"].getData()[1]) == [0.75, 0.75]
    _, wy = window.plots.split_wait.getData()
    assert wy[-1] == pytest.approx(100 * expected.window.input_wait_fraction)
    assert "Epoch 2 (1.5 s)" in window.plots.epoch_label.text()
    assert_advice_shown(window)
    assert not window.banner.isVisible() and not window.traceback_box.isVisible()


def test_a_compute_bound_run_reads_not_input_bound(qtbot, run_window):
    window, _run, channel = run_window
    feed(qtbot, window, channel, [step(i, wait=0.0001, compute=0.02) for i in range(1, 31)],
         lambda w: w.summary.steps == 30)
    assert window.verdict_label.text() == window.summary.verdict == "not input-bound"
    assert window.share_label.text().startswith("0% of step time")


def test_stall_banner_names_the_worker_and_clears_when_steps_resume(qtbot, run_window):
    window, _run, channel = run_window
    feed(qtbot, window, channel, events(12), lambda w: w.summary.steps == 12)
    detail = "tf.data service worker localhost:5052 stopped answering"
    feed(qtbot, window, channel, [InputStalled(5.0, 12.0, detail)], lambda w: w.banner.isVisible())
    assert detail in window.banner.text() and "no batch for 12 s" in window.banner.text()
    assert window.state_label.text().startswith("stalled")
    feed(qtbot, window, channel, [step(13)], lambda w: not w.banner.isVisible())
    assert window.state_label.text().startswith("training")


def test_a_script_that_raised_shows_its_traceback_and_stays_readable(qtbot, run_window):
    window, run, channel = run_window
    feed(qtbot, window, channel, [*events(25), ScriptFinished(1, TRACEBACK, 25)],
         lambda w: w.traceback_box.isVisible())
    assert window.traceback.toPlainText() == TRACEBACK
    assert window.traceback.isReadOnly()
    assert window.state_label.text().startswith("failed (exit code 1)")
    assert len(window.stages.box_texts()) == 5 and window.stages.isVisible()
    assert window.plots.split_plot.isVisible() and window.plots.split_plot.height() > 60
    lines = TRACEBACK.count("\n") + 1
    assert window.traceback.viewport().height() >= lines * window.traceback.fontMetrics().lineSpacing()
    assert window.traceback_box.height() <= 0.46 * sum(window.lower.sizes())
    assert window.close()
    assert run.stop_calls == 1


def test_a_script_that_never_trained_says_so(qtbot, run_window):
    from pipeviz.core.watch.report import NEVER_TRAINED
    from pipeviz.gui.runwindow import NO_STEPS_TEXT
    window, _run, channel = run_window
    feed(qtbot, window, channel, [ScriptStarted("/home/me/train.py", (), 1, 0.0),
                                  ScriptFinished(0, "", 0)], lambda w: w.banner.isVisible())
    assert window.verdict_label.text() == NO_STEPS_TEXT
    assert window.banner.text() == NEVER_TRAINED
    assert window.state_label.text() == "finished (exit code 0)"
    assert not window.traceback_box.isVisible()
    from pipeviz.gui.stagediagram import NO_STAGES_TEXT
    assert window.stages.empty_text == NO_STAGES_TEXT and window.stages.box_texts() == []


def test_a_stopped_run_says_stopped_with_pipevizs_message(qtbot, run_window):
    from pipeviz.core.events import ErrorEvent
    window, run, channel = run_window
    run.stop_requested = True
    feed(qtbot, window, channel, [*events(5), ErrorEvent("the script was stopped by pipeviz"),
                                  ScriptFinished(-2)], lambda w: w.summary.finished is not None)
    assert window.state_label.text().startswith("stopped (exit code -2)")
    assert "stopped by pipeviz" in window.banner.text()


def test_autotune_off_note_and_unknown_figures_show_a_dash(qtbot, run_window):
    window, _run, channel = run_window
    note = "autotune is off for this dataset: parallelism, buffers and times cannot be read"
    bare = tuple(Stage(s.position, s.kind, s.op) for s in STAGES)
    feed(qtbot, window, channel, [step(1), StagesSampled(1.0, bare, note=note)],
         lambda w: w.stage_note.isVisible())
    assert note in window.stage_note.text()
    for lines in window.stages.box_texts():
        assert "— ms per batch" in lines and "SLOWEST" not in lines
    assert_advice_shown(window)


def test_closing_asks_the_run_to_stop_without_waiting(qtbot, run_window):
    window, run, channel = run_window
    feed(qtbot, window, channel, events(3), lambda w: w.summary.steps == 3)
    started = time.perf_counter()
    window.close()
    assert time.perf_counter() - started < 0.5
    assert run.stop_calls == 1 and not window.bridge.timer.isActive()


def test_the_window_fits_720p_with_the_traceback_shown(qtbot, run_window):
    window, _run, channel = run_window
    feed(qtbot, window, channel, [*events(25), ScriptFinished(1, TRACEBACK, 25)],
         lambda w: w.traceback_box.isVisible())
    hint = window.minimumSizeHint()
    assert hint.width() <= 1280 and hint.height() <= 720
    window.resize(1280, 720)
    qtbot.wait(50)
    label = window.advice_label
    assert window.advice_lines and label.height() >= label.heightForWidth(label.width()) - 2, \
        "all the advice can be scrolled to"


def test_stage_words_for_service_fusion_and_wrapping(qtbot):
    from pipeviz.gui.stagediagram import StageDiagram, buffer_fill, rows_for, stage_lines
    service = Stage(6, "data service", "DataServiceDatasetV4", buffer_size=10, buffered=3, workers=2)
    lines = stage_lines(service)
    assert "workers 2" in lines and "buffer 3/10" in lines and buffer_fill(service) == 0.3
    assert "workers —" in stage_lines(Stage(6, "data service", "DataServiceDatasetV4"))
    fused = Stage(3, "map", "MapAndBatchDataset", fused_with="batch (MapAndBatch)")
    assert "fused with batch (MapAndBatch)" in stage_lines(fused)
    assert buffer_fill(Stage(2, "prefetch", "PrefetchDataset", buffer_size=4)) is None
    assert stage_lines(Stage(2, "prefetch", "PrefetchDataset", ms_per_batch=0.004))[-1] == \
        "<0.1 ms per batch"
    diagram = StageDiagram()
    qtbot.addWidget(diagram)
    many = tuple(Stage(i, "map", "MapDataset") for i in range(1, 13))
    diagram.show_stages(many)
    assert rows_for(12, 1280) == 2 and rows_for(12, 1920) == 1
    assert diagram.heightForWidth(1280) > diagram.heightForWidth(1920)


def test_run_states_in_words():
    from pipeviz.gui.runwindow import run_state
    summary = RunSummary()
    assert run_state(summary, False) == "starting"
    summary.add(FitStarted(0.0))
    assert run_state(summary, False) == "training"
    assert run_state(summary, True) == "stopping"
    summary.add(ScriptFinished(-9))
    assert run_state(summary, False) == "ended by signal 9"
    assert run_state(summary, True) == "stopped (exit code -9)"


def test_exit_status_reads_signals_as_a_shell_does():
    from pipeviz.gui.runwindow import exit_status
    assert [exit_status(c) for c in (0, 3, -2, -9, None)] == [0, 3, 130, 137, 1]


def test_summary_folds_a_frames_steps_at_once_as_one_by_one():
    """The window folds each frame's steps with RunSummary.add_steps: the same figures as
    adding them one at a time (rounding aside)."""
    steps = [step(i, wait=0.001 * (i % 7), compute=0.004 + 0.0001 * i) for i in range(1, 251)]
    one, many = RunSummary(), RunSummary()
    for event in steps:
        one.add(event)
    for start in range(0, len(steps), 30):
        many.add_steps(steps[start:start + 30])
    for a, b in ((one.stats, many.stats), (one.window, many.window)):
        assert (a.steps, a.images) == (b.steps, b.images)
        for part in ("input_wait_s", "host_s", "between_s", "compute_s"):
            assert getattr(a, part) == pytest.approx(getattr(b, part))
    assert many.last_step is steps[-1] and many.verdict == one.verdict


# ----- with a real child: the script runs under pipeviz's hook, its events reach the window ----
TRAIN = """
import sys
import numpy as np
import tensorflow as tf
import keras

x = np.random.default_rng(0).random((960, 8), dtype=np.float32)
y = (x.sum(1) > 4).astype("int32")
ds = (tf.data.Dataset.from_tensor_slices((x, y)).map(lambda a, b: (a * 2, b), name="double")
      .batch(32).prefetch(tf.data.AUTOTUNE))
val = tf.data.Dataset.from_tensor_slices((x[:64], y[:64])).batch(32)
model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(2, activation="softmax")])
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
if sys.argv[1:] == ["forever"]:
    ds = ds.repeat()
    model.fit(ds, epochs=1000, steps_per_epoch=25, validation_data=val, verbose=0)
else:
    model.fit(ds, epochs=1, validation_data=val, verbose=0)
"""


def child_window(qtbot, script, args=()):
    from pipeviz.core.watch.runner import ChildRun
    from pipeviz.gui.runwindow import RunWindow
    channel = EventChannel(lossy_capacity=1 << 16)
    run = ChildRun(script, list(args), channel)
    window = RunWindow(run, channel)
    qtbot.addWidget(window)
    run.start()
    window.show()
    return window, run


def test_a_child_that_raises_shows_its_traceback(qtbot, tmp_path):
    script = tmp_path / "broken.py"
    script.write_text("def load():\n    raise FileNotFoundError('no such dataset: /data/train')\n"
                      "load()\n")
    window, run = child_window(qtbot, script)
    qtbot.waitUntil(lambda: window.traceback_box.isVisible(), timeout=60_000)
    text = window.traceback.toPlainText()
    assert "FileNotFoundError: no such dataset: /data/train" in text and str(script) in text
    assert window.state_label.text() == "failed (exit code 1)"
    assert NO_STEPS in window.banner.text()
    window.close()
    assert run.wait(10) == 1


NO_STEPS = "no training steps"


def test_a_child_s_run_shows_and_ctrl_c_ends_it_within_3_s(qtbot, tmp_path, monkeypatch):
    """run_app_for_child, as `pipeviz run` calls it: the script's steps, epochs, metrics and
    stages reach the window; once they have, SIGINT (Ctrl+C) closes it, the child is ended
    and its exit code returned within 3 s, and the run is recorded for the next run's
    comparison (the file --report reads too)."""
    import argparse
    import os
    import signal

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from pipeviz.core.watch import history
    from pipeviz.core.watch.runner import STOP_WITHIN_S
    from pipeviz.gui.runwindow import RunWindow, run_app_for_child, run_state

    monkeypatch.setenv("PIPEVIZ_CACHE_DIR", str(tmp_path / "cache"))  # the run's record
    script = tmp_path / "train.py"
    script.write_text(TRAIN)
    assert history.load(str(script)) is None
    seen: dict = {}

    def poll() -> None:
        windows = [w for w in QApplication.topLevelWidgets()
                   if isinstance(w, RunWindow) and w.isVisible()]
        summary = windows[0].summary if windows else None
        if summary and summary.steps >= 60 and summary.epochs and summary.stages \
                and "sent" not in seen:
            seen.update(window=windows[0], sent=time.monotonic())
            os.kill(os.getpid(), signal.SIGINT)

    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(50)
    give_up = QTimer(singleShot=True)
    give_up.timeout.connect(lambda: os.kill(os.getpid(), signal.SIGINT))
    give_up.start(180_000)
    try:
        code = run_app_for_child(argparse.Namespace(script=str(script), script_args=["forever"]))
    finally:
        timer.stop()
        give_up.stop()
    ended = time.monotonic()
    assert "sent" in seen, "the window never showed 60 steps, an epoch and the stages"
    window = seen["window"]
    qtbot.addWidget(window)  # (closed: deleted after the test)
    assert not window.run.running and ended - seen["sent"] <= STOP_WITHIN_S + 0.5
    assert code in (130, 128 + signal.SIGTERM, 128 + signal.SIGKILL)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    summary = window.summary
    assert summary.script == str(script) and summary.argv == ("forever",)
    assert run_state(summary, window.run.stop_requested).startswith("stopped (exit code")
    from pipeviz.core.stepstats import input_verdict
    assert window.verdict_label.text() in {input_verdict(f) for f in (0.0, 0.1, 0.3)}
    assert len(window.plots.loss_raw.getData()[0]) >= 60
    assert "val_loss" in window.plots.epoch_label.text() and "val_loss" in summary.epochs[0].logs
    boxes = window.stages.box_texts()
    assert len(boxes) == len(summary.stages) >= 3
    assert [b[0].split(" · ")[0] for b in boxes] == [str(s.position) for s in
                                                     sorted(summary.stages, key=lambda s: s.position)]
    assert any(b[1] == "double" and "map" in b[0] for b in boxes)
    last = history.load(str(script))
    assert last is not None and last.summary["steps"] == summary.steps >= 60


def test_the_verdict_and_banner_follow_a_dark_palette(qtbot, run_window):
    from PySide6.QtGui import QColor, QPalette
    from PySide6.QtWidgets import QApplication

    from pipeviz.gui.diagram import WAITING
    window, _run, channel = run_window
    detail = "worker localhost:5052 stopped answering"
    feed(qtbot, window, channel, [*events(12), InputStalled(5.0, 12.0, detail)],
         lambda w: w.banner.isVisible())
    light = QColor(*WAITING[0]).name()
    assert light in window.verdict_label.styleSheet() and light in window.banner.styleSheet()
    app = QApplication.instance()
    original = app.palette()
    dark = QPalette(original)
    for role, colour in ((QPalette.ColorRole.Window, "#2b2b2b"), (QPalette.ColorRole.Base, "#1e1e1e"),
                         (QPalette.ColorRole.Text, "#e0e0e0"), (QPalette.ColorRole.WindowText, "#e0e0e0")):
        dark.setColor(role, QColor(colour))
    try:
        app.setPalette(dark)
        dark_name = QColor(*WAITING[1]).name()
        qtbot.waitUntil(lambda: dark_name in window.verdict_label.styleSheet(), timeout=3000)
        assert dark_name in window.banner.styleSheet()
    finally:
        app.setPalette(original)


def test_a_run_without_a_script_is_shown_until_a_script_names_itself(qtbot):
    """`pipeviz view`: the window over a real Listener; a script connects with the address
    and token it printed (as pipeviz.watch does) and names itself; closing the window stops
    the listening (its threads end) but never touches the script."""
    import threading

    from pipeviz.core.watch.runner import Listener
    from pipeviz.core.watch.wire import Sender
    from pipeviz.gui.runwindow import UNNAMED_SCRIPT, RunWindow

    channel = EventChannel()
    run = Listener(channel)
    window = RunWindow(run, channel)
    qtbot.addWidget(window)
    address, token = run.start().split()
    window.show()
    assert window.command_label.text() == UNNAMED_SCRIPT
    sender = Sender(address, token)
    sender.send(ScriptStarted("/nb/train.py", ("-x",), 5, 0.0))
    sender.send(step(1))
    qtbot.waitUntil(lambda: window.summary.steps == 1, timeout=5000)
    assert window.command_label.text() == "train.py -x"
    window.close()
    assert run.stop_requested and run.done.wait(2)
    qtbot.waitUntil(lambda: not any(t.name == "pipeviz-receiver" for t in threading.enumerate()),
                    timeout=3000)
    sender.send(step(2))  # the script goes on, unwatched: no error reaches it
    sender.close()


def test_a_box_s_tooltip_has_its_words_in_full_and_the_tf_data_op(qtbot):
    from pipeviz.gui.stagediagram import StageDiagram
    diagram = StageDiagram()
    qtbot.addWidget(diagram)
    diagram.resize(1280, 200)
    fused = Stage(2, "map", "MapAndBatchDataset", name="tokenize", fused_with="batch (MapAndBatch)")
    diagram.show_stages((Stage(1, "source", "TensorSliceDataset"), fused))
    second = diagram.box_rects()[1]
    text = diagram.tooltip_at(second.center().x(), second.center().y())
    assert "fused with batch (MapAndBatch)" in text and "tf.data op: MapAndBatchDataset" in text
    assert diagram.tooltip_at(1, 1) == ""


def test_a_finished_run_is_compared_with_the_last_run_of_its_script(qtbot):
    """Given the last run of the same script (history.py), the advice panel says, once
    this run ended, how its examples/s and input wait changed (as --report words it)."""
    from pipeviz.core.watch import history
    from pipeviz.core.watch.advice import advise
    from pipeviz.gui.runwindow import RunWindow

    before = RunSummary()
    for event in [ScriptStarted("/home/me/train.py", (), 1, 0.0),
                  *(step(i, wait=0.030) for i in range(1, 41))]:
        before.add(event)
    previous = history.LastRun("/home/me/train.py", time.time() - 60, before.to_json(),
                               [a.to_json() for a in advise(before)])
    channel, run = EventChannel(), FakeRun()
    window = RunWindow(run, channel, previous=previous)
    qtbot.addWidget(window)
    window.show()
    feed(qtbot, window, channel, events(40), lambda w: w.summary.steps == 40)
    assert "Since the last run" not in window.advice_label.text()  # not before it ends
    feed(qtbot, window, channel, [ScriptFinished(0, "", 40)],
         lambda w: "Since the last run" in w.advice_label.text())
    after = window.summary.stats.images_per_s
    assert f"{before.stats.images_per_s:,.1f} -&gt; {after:,.1f} examples/s" in \
        window.advice_label.text()


def test_a_screenshot_taken_mid_run_stops_the_script_as_asked(qtbot, run_window, tmp_path):
    """--screenshot with --train-seconds: after that long the window is saved and closed,
    which stops the script; the run's exit code is then the screenshot's (0: saved), not
    the stopped script's 130. A script that ended first keeps its own."""
    from pipeviz.gui.runwindow import _screenshot_when_ready
    window, run, channel = run_window
    outcome = _screenshot_when_ready(window, tmp_path / "shot.png", after_s=0.0)
    feed(qtbot, window, channel, events(5), lambda w: not w.isVisible())
    assert outcome == {"saved": True, "stopped_it": True} and run.stop_calls == 1
    assert (tmp_path / "shot.png").stat().st_size > 10_000


def test_the_plots_fill_their_width_for_a_short_run(qtbot, run_window):
    """21 steps span the x axis to 50, not the left tenth of a 500-step window; a model
    compiled without metrics says so on its empty metrics plot."""
    from pipeviz.gui.runplots import NO_METRICS_TITLE
    window, _, channel = run_window
    items = [e for e in events(21) if not isinstance(e, (StepMetrics, EpochLogs))]
    feed(qtbot, window, channel, items + [StepMetrics(21, 1, {"loss": 0.5})],
         lambda w: w.summary.steps == 21)
    (x_min, x_max), _ = window.plots.loss_plot.getPlotItem().viewRange()
    assert (x_min, x_max) == (0, 50)
    assert window.plots.metrics_plot.getPlotItem().titleLabel.text == NO_METRICS_TITLE
