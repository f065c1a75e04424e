"""The experiment tab, step timeline, advisor, TensorBoard actions and learn panel, driven
in the window as a user would."""
import csv
import threading
import time

import numpy as np
from PySide6.QtWidgets import QMessageBox

from pipeviz.core.config import AUTOTUNE, PipelineConfig, preset
from pipeviz.core.learn import QUESTIONS

from conftest import wait_until


def set_config(window, config):
    window.session.pipeline_config = config
    window.controls.set_config(config)


def test_experiment_tab_runs_shows_and_exports(window, qtbot, tmp_path):
    panel = window.experiment
    window.run_experiment(20, names=("naive", "prefetch"))
    assert window.showing(panel)
    assert not window.controls.start_button.isEnabled() and panel.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: len(panel.sweeps) == 1, timeout=120_000)
    runs = panel.sweeps[0]
    assert [r.name for r in runs] == ["naive", "prefetch"]
    assert window.controls.start_button.isEnabled() and not panel.cancel_button.isEnabled()
    # table: one row per config, speedup over that run's naive
    assert panel.table.rowCount() == 2
    speedup = runs[1].result.images_per_s / runs[0].result.images_per_s
    assert panel.table.item(1, 3).text() == f"{round(speedup, 3):.2f}x"
    assert panel.table.item(0, 2).text() == str(round(runs[0].result.images_per_s, 1))
    # bars (horizontal): lengths are the measured images/s and idle %
    (speed,), (idle,) = panel.bars["speed"], panel.bars["idle"]
    assert np.allclose(speed.opts["width"], [r.result.images_per_s for r in runs])
    assert np.allclose(idle.opts["width"], [100 * r.result.idle_fraction for r in runs])
    # the timeline of the chosen config holds its real stage stamps
    assert panel.timeline_combo.count() == 2
    boxes = panel.timeline.boxes
    naive_steps = runs[0].steps
    assert boxes.count("train") == len(naive_steps) == 20
    assert np.allclose(boxes.spans["train"][0] + boxes.t0, [s.t_taken for s in naive_steps])
    assert np.allclose(boxes.spans["read"][1] + boxes.t0, [s.t_loaded for s in naive_steps])
    panel.timeline_combo.setCurrentIndex(1)
    assert np.allclose(panel.timeline.boxes.spans["train"][1] + panel.timeline.boxes.t0,
                       [s.t_trained for s in runs[1].steps])
    # export, and a second run to compare with
    with open(panel.export_csv(tmp_path / "results.csv")) as f:
        rows = list(csv.DictReader(f))
    assert [r["config"] for r in rows] == ["naive", "prefetch"] and rows[0]["run"] == "1"
    assert float(rows[1]["images/s"]) == round(runs[1].result.images_per_s, 1)
    png = panel.export_png(tmp_path / "chart.png")
    assert png.stat().st_size > 1000 and not list(tmp_path.glob(".*"))
    panel._export(panel.export_csv, str(tmp_path / "no-such-folder" / "r.csv"))
    assert any("Could not export" in d.text() for d in window.findChildren(QMessageBox))


def test_cancel_and_close_mid_sweep(window, qtbot):
    panel = window.experiment
    window.run_experiment(100_000, names=("naive", "prefetch"))
    qtbot.waitUntil(lambda: panel.last_progress and panel.last_progress.done_steps > 4, timeout=60_000)
    panel.cancel_button.click()
    started = time.monotonic()
    qtbot.waitUntil(lambda: not window.session.sweeping, timeout=3_000)
    assert time.monotonic() - started < 3
    qtbot.waitUntil(lambda: panel.run_button.isEnabled(), timeout=3_000)
    assert panel.sweeps == [] and "Cancelled" in panel.status.text()
    first_loop = window.session.sweep.loop
    window.run_experiment(100_000, names=("naive",))
    qtbot.waitUntil(lambda: panel.last_progress and panel.last_progress.done_steps > 4, timeout=60_000)
    assert window.session.sweep.loop is first_loop and first_loop.traces == 1, "traced again"
    assert first_loop.model is not window.session.predictor.model, "the user's model is apart"
    started = time.monotonic()
    window.close()
    assert time.monotonic() - started <= 3.0
    # the sweep ends at its next step boundary (see test_closing_mid_training_stops_the_worker)
    assert wait_until(lambda: not [t for t in threading.enumerate() if t.name == "pipeviz-sweep"], 10)


def test_advisor_names_input_bound_applies_prefetch_and_measures(window, qtbot):
    set_config(window, preset("naive", PipelineConfig(storage_latency_ms=15, shuffle_buffer=64)))
    window.controls.latency_auto_toggle.setChecked(False)  # (a latency matched mid-trial
    window.controls.start_button.click()                   # would cancel the measurement)
    advisor = window.advisor
    advisor.trial_steps = 40  # (100 in the app) enough for a median, and a quicker test
    qtbot.waitUntil(lambda: advisor.apply_button.isVisible(), timeout=60_000)
    assert advisor.advice.bound == "input" and advisor.advice.changes == {"prefetch": AUTOTUNE}
    assert "Input-bound" in advisor.headline.text()
    advisor.apply_button.click()
    qtbot.waitUntil(lambda: window.session.trainer.pipeline_config.prefetch == AUTOTUNE, timeout=10_000)
    assert window.controls.prefetch_toggle.isChecked()
    qtbot.waitUntil(lambda: advisor.trial is not None and advisor.trial.measured is not None,
                    timeout=120_000)
    text = advisor.trial_label.text()
    assert f"predicted {advisor.trial.advice.predicted_wall_ms:.1f} ms" in text
    assert f"measured {advisor.trial.measured.wall_ms:.1f} ms" in text
    # the learn panel's evidence now points at this change, measured
    prefetch_box = window.learn.questions[0]
    prefetch_box.choices.button(0).click()
    prefetch_box.check()
    assert prefetch_box.answered_right is False and "Not quite" in prefetch_box.feedback.text()
    prefetch_box.choices.button(QUESTIONS[0].correct).click()
    prefetch_box.check()
    assert prefetch_box.answered_right is True
    applied = window.knob_evidence.changes[-1].step
    assert f"At step {applied} prefetch became auto" in prefetch_box.feedback.text()


def test_live_timeline_profile_and_scalars(window, qtbot):
    from pipeviz.core.tboard import profile_files, read_scalars
    window.controls.start_button.click()
    qtbot.waitUntil(lambda: window.plots.last_step >= 10, timeout=60_000)
    window.show_tab(window.live_timeline)
    qtbot.waitUntil(lambda: window.live_timeline.boxes is not None
                    and window.live_timeline.boxes.count("train") > 0, timeout=5_000)
    boxes = window.live_timeline.boxes
    shown = {round(s.t_taken - boxes.t0, 9) for s in window.timeline.events}
    assert {round(x, 9) for x in boxes.spans["train"][0]} <= shown, "boxes come from real steps"
    assert window.actions["profile"].isEnabled()
    window.actions["profile"].trigger()
    run_dir = window.session.run_dir
    qtbot.waitUntil(lambda: "Profiled" in window.statusBar().currentMessage(), timeout=60_000)
    assert profile_files(run_dir)
    window.stop_training()
    qtbot.waitUntil(lambda: not window.session.training, timeout=10_000)
    assert "loss" in read_scalars(run_dir)
    assert str(window.session.runs_root or "") in window.menus.tensorboard_command()


def test_quiz_needs_an_answer_and_explains_normalizing(window):
    box = window.learn.questions[2]
    box.check()
    assert box.answered_right is None and "Pick an answer" in box.feedback.text()
    box.choices.button(QUESTIONS[2].correct).click()
    box.check()
    assert box.answered_right and f"{window.session.normalized_150:.2f}" in box.feedback.text()
    assert abs(window.session.normalized_150 - 150 / 255) < 1e-6


def test_start_again_trains_a_fresh_model_without_tracing_again(window, qtbot):
    """Every Start trains the seed's fresh model; the session's traced step loop is reset,
    not traced again (a second run starts at once)."""
    set_config(window, preset("naive", PipelineConfig(storage_latency_ms=0)))  # same batches
    first_losses, traces = [], []
    for _ in range(2):
        window.controls.start_button.click()
        qtbot.waitUntil(lambda: len([e for e in window.timeline.events if e.step <= 6]) == 6,
                        timeout=60_000)
        first_losses.append([e.loss for e in window.timeline.events if e.step <= 6])
        window.stop_training()
        qtbot.waitUntil(lambda: not window.session.training, timeout=10_000)
        traces.append(window.session.step_loop.traces)
    assert np.allclose(first_losses[0], first_losses[1], rtol=1e-5), "not the same fresh model"
    assert traces[1] == traces[0], "the second run traced the step loop again"
    assert window.session.predictor.model is window.session.step_loop.model
