"""What a person reads in the diagram, the step timeline and the experiment tab, and that
plots and panels follow the system's light or dark palette."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPalette, QWheelEvent
from PySide6.QtWidgets import QApplication

from pipeviz.core import wording
from pipeviz.core.config import AUTOTUNE, PipelineConfig
from pipeviz.core.events import StepEvent
from pipeviz.core.timeline import AUGMENT, BUFFER, NORMALIZE, TRAIN, DiagramState, StageStats

DARK = {QPalette.ColorRole.Window: (45, 45, 48), QPalette.ColorRole.WindowText: (230, 230, 230),
        QPalette.ColorRole.Base: (30, 30, 32), QPalette.ColorRole.Text: (230, 230, 230),
        QPalette.ColorRole.Button: (50, 50, 54), QPalette.ColorRole.ButtonText: (230, 230, 230),
        QPalette.ColorRole.Highlight: (60, 120, 210)}
LIGHT = {QPalette.ColorRole.Window: (239, 239, 239), QPalette.ColorRole.WindowText: (20, 20, 20),
         QPalette.ColorRole.Base: (255, 255, 255), QPalette.ColorRole.Text: (20, 20, 20),
         QPalette.ColorRole.Button: (239, 239, 239), QPalette.ColorRole.ButtonText: (20, 20, 20),
         QPalette.ColorRole.Highlight: (48, 140, 198)}


def make_palette(colors) -> QPalette:
    palette = QPalette()
    for role, rgb in colors.items():
        palette.setColor(role, QColor(*rgb))
    return palette


@pytest.fixture
def set_palette(qapp):
    """Set the application's palette for one test; the original comes back after it."""
    original = QPalette(qapp.palette())

    def set_colors(colors) -> None:
        qapp.setPalette(make_palette(colors))
        qapp.processEvents()  # Qt posts the palette change to the widgets

    yield set_colors
    qapp.setPalette(original)
    qapp.processEvents()


def fake_steps(n: int, t0: float, first_step: int = 1, step_s: float = 0.012,
               load_s: float = 0.010) -> list[StepEvent]:
    """`n` steps without prefetch: each batch is read, normalized and augmented after the
    previous step, then trained."""
    out, t = [], t0
    for i in range(n):
        loaded, normalized = t + 0.6 * load_s, t + 0.8 * load_s
        augmented = t + load_s
        trained = augmented + step_s
        out.append(StepEvent(step=first_step + i, epoch=0, batch_size=32, loss=1.0,
                             accuracy=0.5, input_wait_s=load_s, compute_s=step_s, host_s=0.0,
                             wall_s=trained - t, t_loaded=loaded, t_normalized=normalized,
                             t_enqueued=augmented, t_requested=t, t_taken=augmented,
                             t_trained=trained, t_started=t, t_augmented=augmented))
        t = trained + 0.0005
    return out


# ----- palette ----------------------------------------------------------------------------
def background_lightness(plot_widget) -> int:
    return plot_widget.backgroundBrush().color().lightness()


def test_plots_follow_a_dark_and_a_light_palette(qtbot, set_palette):
    from pipeviz.gui.experiment import ExperimentPanel
    from pipeviz.gui.gantt import StepTimelineView
    from pipeviz.gui.plots import LivePlots

    set_palette(DARK)
    plots, timeline, experiment = LivePlots(), StepTimelineView(), ExperimentPanel()
    for widget in (plots, timeline, experiment):
        qtbot.addWidget(widget)
        widget.show()  # (Qt tells shown widgets of a new palette)
    widgets = (plots.loss_plot, plots.accuracy_plot, plots.idle_plot, timeline,
               experiment.speed_plot, experiment.idle_plot)
    assert all(background_lightness(w) < 60 for w in widgets)
    assert plots.idle_plot.getAxis("left").textPen().color().lightness() > 180
    set_palette(LIGHT)  # the desktop switches theme while the app runs
    assert all(background_lightness(w) > 220 for w in widgets)
    assert plots.idle_plot.getAxis("left").textPen().color().lightness() < 60
    # the blue smoothed curve has a lighter twin on dark
    light_pen = plots.loss_smooth.opts["pen"].color().lightness()
    set_palette(DARK)
    assert plots.loss_smooth.opts["pen"].color().lightness() > light_pen


def test_diagram_paints_in_the_palettes_colours(qtbot, set_palette):
    from pipeviz.gui.diagram import PipelineDiagram

    diagram = PipelineDiagram()
    qtbot.addWidget(diagram)
    diagram.resize(900, 160)
    for colors, dark in ((DARK, True), (LIGHT, False)):
        set_palette(colors)
        image = diagram.grab().toImage()
        corner = image.pixelColor(3, image.height() - 3).lightness()
        assert (corner < 80) if dark else (corner > 200)


# ----- the diagram's words ----------------------------------------------------------------
def test_parallelism_and_buffer_in_words():
    assert wording.parallel_calls(AUTOTUNE) == "autotuned parallel calls"
    assert wording.parallel_calls(4) == "4 parallel calls"
    assert wording.parallel_calls(1) == "inline"
    assert wording.stage_parallelism("normalize", AUTOTUNE) == "normalize: autotuned parallel calls"
    assert wording.prefetch_buffer(0) == "off"
    assert wording.prefetch_buffer(AUTOTUNE) == "autotuned size"
    assert wording.prefetch_buffer(1) == "holds 1 batch"
    assert wording.prefetch_buffer(8) == "holds 8 batches"
    assert wording.batches_per_s(43.4) == "43 batches/s"
    assert wording.batches_per_s(2.44) == "2.4 batches/s"
    assert wording.ms_per_batch(23.04) == "23.0 ms per batch"
    assert wording.storage_latency(4, "batch") == "4 ms per batch (simulated)"
    assert wording.storage_latency(0, "batch") == "no added delay"


@pytest.mark.parametrize("config", [
    PipelineConfig(), PipelineConfig(parallel_map=1, parallel_augment=4, prefetch=0),
    PipelineConfig(parallel_map=4, augment=False, prefetch=3, parallel_reads=1, cache=True)])
def test_diagram_subtitles_are_words(config):
    from pipeviz.gui.diagram import BOXES, subtitle

    texts = {key: subtitle(key, config) for key, _ in BOXES}
    assert not any("map x" in t or "xauto" in t or t.startswith("size ") for t in texts.values())
    assert texts[NORMALIZE] == wording.parallel_calls(config.parallel_map)
    assert texts[AUGMENT] == (wording.parallel_calls(config.parallel_augment) if config.augment else "off")
    assert texts[BUFFER] == wording.prefetch_buffer(config.prefetch)
    assert texts[TRAIN] == f"batch {config.batch_size}"
    assert texts["load"].startswith(("4 parallel reads", "one read at a time"))


def test_diagram_figures_say_their_units():
    from pipeviz.gui.diagram import figures

    assert figures(StageStats(batches_per_s=43.2, ms_per_batch=23.04)) == \
        ("43 batches/s", "23.0 ms per batch")


def test_a_buffer_that_is_off_never_holds_a_batch(qtbot):
    """With prefetch off, a batch built and not yet taken is drawn in the stage that made
    it, and nothing reads 'ready' in the crossed-out buffer."""
    from pipeviz.gui import diagram as d

    state = DiagramState(t=0.0, tokens={NORMALIZE: [7], AUGMENT: [5], BUFFER: [4], TRAIN: [3]},
                         train_waiting=True)
    off = d.shown_tokens(state, PipelineConfig(prefetch=0))
    assert BUFFER not in off and off[AUGMENT] == [5, 4] and off[TRAIN] == [3]
    off_no_augment = d.shown_tokens(state, PipelineConfig(prefetch=0, augment=False))
    assert off_no_augment[NORMALIZE] == [7, 4]
    assert d.shown_tokens(state, PipelineConfig(prefetch=AUTOTUNE))[BUFFER] == [4]
    # and what is painted: no "ready" text drawn with the buffer off, "1 batch ready" with it on
    widget = d.PipelineDiagram()
    qtbot.addWidget(widget)
    widget.resize(900, 160)
    drawn = []
    original = d.QPainter.drawText

    def record(painter, *args):
        drawn.append(args[-1])
        return original(painter, *args)

    d.QPainter.drawText = record
    try:
        for prefetch in (0, AUTOTUNE):
            drawn.clear()
            widget.show_state(state, PipelineConfig(prefetch=prefetch))
            widget.grab()  # paints it
            ready = [t for t in drawn if "ready" in str(t)]
            assert ready == ([] if prefetch == 0 else ["1 batch ready"])
    finally:
        d.QPainter.drawText = original


# ----- the step timeline --------------------------------------------------------------------
def x_range(view) -> tuple[float, float]:
    return tuple(view.getPlotItem().getViewBox().viewRange()[0])


def wheel(view, steps: int = 3) -> None:
    """Scroll the mouse wheel over the plot (zoom in), as a user does."""
    viewport = view.viewport()
    pos = QPointF(viewport.rect().center())
    for _ in range(steps):
        event = QWheelEvent(pos, QPointF(viewport.mapToGlobal(pos.toPoint())), QPoint(0, 0),
                            QPoint(0, 120), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                            Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(viewport, event)


def test_timeline_zoom_stays_until_follow_latest(qtbot):
    from pipeviz.gui.gantt import StepTimelineView

    view = StepTimelineView("liveTimeline")
    qtbot.addWidget(view)
    view.resize(700, 300)
    view.show()
    steps = fake_steps(400, 1000.0)
    shown = 0
    for i in range(50, 201, 50):  # the window's redraws: the last 2 s, now at the newest
        view.show_live(steps[:i], now=steps[i - 1].t_trained, window_s=2.0)
        shown = i
    assert view.following
    start, end = x_range(view)
    assert end - start == pytest.approx(2.0, abs=0.01)
    wheel(view)
    assert not view.following and not view.follow_button.isChecked()
    zoomed = x_range(view)
    assert zoomed[1] - zoomed[0] < 1.5
    for i in range(shown + 50, 401, 50):  # training goes on: the zoom stays
        view.show_live(steps[i - 100:i], now=steps[i - 1].t_trained, window_s=2.0)
    assert x_range(view) == pytest.approx(zoomed)
    assert view.boxes.count("train") > 0  # the batches in the zoomed range are still drawn
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton)  # back to following
    assert view.following and view.follow_button.isChecked()
    origin = view.history.origin
    assert x_range(view)[1] == pytest.approx(steps[-1].t_trained - origin, abs=0.06)
    wheel(view)
    assert not view.following
    view.follow_button.click()
    assert view.following and x_range(view)[1] == pytest.approx(steps[-1].t_trained - origin, abs=0.06)


def test_timeline_freezes_while_paused(qtbot):
    """No new steps (paused): the view stays on the steps up to the pause while the clock
    runs on, instead of scrolling into empty time."""
    from pipeviz.gui.gantt import StepTimelineView

    view = StepTimelineView("liveTimeline")
    qtbot.addWidget(view)
    steps = fake_steps(200, 1000.0)
    last = steps[-1].t_trained
    view.show_live(steps[-100:], now=last, window_s=2.0)
    before = x_range(view)
    view.show_live([], now=last + 0.5, window_s=2.0)  # paused: the window has no new steps
    paused, drawn = x_range(view), view.boxes.count("train")
    assert paused[1] == pytest.approx(before[1], abs=0.06) and drawn > 50
    for seconds in (1.0, 5.0, 60.0):
        view.show_live([], now=last + seconds, window_s=2.0)
        assert x_range(view) == pytest.approx(paused)
        assert view.boxes.count("train") == drawn


def test_timeline_history_starts_over_with_a_new_run():
    from pipeviz.gui.gantt import LiveHistory

    history = LiveHistory(limit=150)
    first = fake_steps(100, 1000.0)
    assert history.add(first) and not history.add(first[-20:])  # each batch once
    assert len(history.steps) == 100
    history.add(fake_steps(100, 1010.0, first_step=101))
    assert len(history.steps) == 150 and history.steps[0].step == 51  # bounded
    assert history.origin == first[0].read_start  # the axis does not move under a zoom
    history.add(fake_steps(10, 1100.0))  # Reset: step 1 again, other stamps
    assert [e.step for e in history.steps] == list(range(1, 11))
    assert history.origin == 1100.0
    assert history.between(1100.0, 1100.05)[0].step == 1


# ----- the experiment tab -------------------------------------------------------------------
def fake_sweep():
    from pipeviz.core.experiment import SWEEP_NAMES, ConfigRun, SweepFinished
    from pipeviz.core.measure import BenchResult

    runs = []
    for k, name in enumerate(SWEEP_NAMES):
        speed = 1000.0 + 250 * k
        result = BenchResult(config=name, steps=60, images=1920, batch_size=32,
                             wall_s=1920 / speed, first_step=1, last_step=60,
                             images_per_s=speed, idle_fraction=0.4 - 0.04 * k,
                             input_wait_fraction=0.3 - 0.03 * k, host_fraction=0.01,
                             between_fraction=0.0, compute_fraction=0.6 + 0.04 * k,
                             between_steps_s=0.0, mean_step_ms=32000 / speed, verdict="",
                             storage_latency_ms=4.0, description=PipelineConfig().describe(),
                             steps_per_call=1.0)
        runs.append(ConfigRun(name, PipelineConfig(), result, tuple(fake_steps(60, 1000.0))))
    return SweepFinished(1, tuple(runs), storage_latency_ms=4.0)


def test_experiment_table_shows_every_row_and_names_do_not_collide(qtbot):
    from pipeviz.core.experiment import SWEEP_NAMES
    from pipeviz.gui.experiment import ExperimentPanel, bar_y

    panel = ExperimentPanel()
    qtbot.addWidget(panel)
    panel.resize(560, 480)  # the tab's size in a 1280x720 window
    panel.show()
    panel.on_finished(fake_sweep())
    qtbot.wait(50)
    table = panel.table
    assert table.rowCount() == len(SWEEP_NAMES) == 8
    last = table.rowCount() - 1
    assert table.rowViewportPosition(0) >= 0
    assert table.rowViewportPosition(last) + table.rowHeight(last) <= table.viewport().height()
    # the chart: one horizontal row per config, names down the side, each row taller than
    # a line of its labels, in the order of the presets
    for plot in (panel.speed_plot, panel.idle_plot):
        box = plot.getPlotItem().getViewBox()
        row_px = box.height() / (box.viewRange()[1][1] - box.viewRange()[1][0])
        axis = plot.getAxis("left")
        assert row_px >= QFontMetrics(axis.style.get("tickFont") or axis.font()).height()
    ticks = panel.speed_plot.getAxis("left")._tickLevels[0]
    assert [name for _, name in sorted(ticks, key=lambda t: -t[0])] == list(SWEEP_NAMES)
    bars = panel.bars["speed"][-1].opts
    assert list(bars["y"]) == pytest.approx([bar_y(n) for n in SWEEP_NAMES], abs=0.45)
    assert list(bars["width"]) == [r.result.images_per_s for r in fake_sweep().runs]


def test_digit_panel_bars_and_layers_follow_the_palette(qtbot, set_palette):
    """The softmax bars and the layer view paint the palette's background and text, not a
    fixed white (a dark desktop showed two white boxes beside the plots)."""
    import numpy as np
    from pipeviz.gui.activations import ActivationsView, PredictionBars

    bars, layers = PredictionBars(), ActivationsView()
    for widget in (bars, layers):
        qtbot.addWidget(widget)
        widget.resize(260, 200)
    bars.show_probabilities(np.full(10, 0.1))
    for colors, dark in ((DARK, True), (LIGHT, False)):
        set_palette(colors)
        for widget in (bars, layers):
            image = widget.grab().toImage()
            corner = image.pixelColor(image.width() - 2, 1).lightness()
            assert (corner < 80) if dark else (corner > 200), (type(widget).__name__, dark, corner)
