"""The live plots draw what they were given: steps as curves, epochs as validation points."""
import numpy as np

from pipeviz.core.events import EpochSummary, StepEvent


def step(i: int, loss: float) -> StepEvent:
    t = 100.0 + i
    return StepEvent(step=i, epoch=0, batch_size=32, loss=loss, accuracy=0.5, input_wait_s=0.001,
                     compute_s=0.003, host_s=0.0, wall_s=0.004, t_loaded=t, t_normalized=t,
                     t_enqueued=t, t_requested=t, t_taken=t, t_trained=t, buffer_after_take=1,
                     t_started=t)


def epoch(k: int, steps: int, val_loss: float, val_accuracy: float) -> EpochSummary:
    return EpochSummary(epoch=k, steps=steps, train_loss=0.5, train_accuracy=0.9, val_loss=val_loss,
                        val_accuracy=val_accuracy, seconds=1.0, idle_fraction=0.2, images_per_s=100.0)


def test_validation_points_are_drawn_once_given_and_kept_through_step_frames(qtbot):
    from pipeviz.gui.plots import LivePlots
    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.add_steps([step(i, 2.0 / i) for i in range(1, 11)])
    plots.add_epoch(epoch(0, 10, 0.4, 0.91))
    plots.refresh()
    for frame in range(3):  # later frames bring only steps: the points stay as they are
        plots.add_steps([step(11 + frame, 0.2)])
        plots.refresh()
    plots.add_epoch(epoch(1, 13, 0.3, 0.95))
    plots.refresh()
    x, y = plots.val_loss.getData()
    assert list(x) == [10, 13] and np.allclose(y, [0.4, 0.3])
    x, y = plots.val_acc.getData()
    assert list(x) == [10, 13] and np.allclose(y, [0.91, 0.95])
    assert list(plots.loss_raw.getData()[0]) == list(range(1, 14))
    plots.reset()
    plots.refresh()
    x, _ = plots.val_loss.getData()
    assert x is None or len(x) == 0


def test_rolling_window_by_default_whole_run_on_request(qtbot):
    from pipeviz.gui.plots import ROLLING_STEPS, LivePlots
    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.add_steps([step(i, 5.0 if i < 100 else 0.5) for i in range(1, 2001)])
    plots.refresh()
    (x_min, x_max), _ = plots.loss_plot.getPlotItem().viewRange()
    assert x_max - x_min == ROLLING_STEPS and x_min <= 2000 <= x_max
    assert plots.loss_plot.getPlotItem().viewRange()[1][1] < 5.0, "y follows the visible losses"
    plots.whole_run.setChecked(True)
    (x_min, x_max), _ = plots.loss_plot.getPlotItem().viewRange()
    assert x_min == 0 and x_max >= 2000


def test_change_markers_are_words_on_rows_that_do_not_overlap(qtbot):
    from pipeviz.core.config import PipelineConfig
    from pipeviz.core.events import ConfigApplied
    from pipeviz.gui.plots import LABEL_ROWS, LivePlots
    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.add_steps([step(i, 1.0) for i in range(1, 400)])
    config = PipelineConfig()
    changes = [("prefetch", config.replace(prefetch=0)), ("storage_latency_ms", config.replace(storage_latency_ms=6.5)),
               ("batch_size", config.replace(batch_size=64)), ("prefetch", config.replace(prefetch=-1))]
    for n, (field, new) in enumerate(changes):
        plots.mark(ConfigApplied(300 + 10 * n, 0.0, new, (field,)))
    labels = [line.label for plot, line in plots._markers if plot is plots.idle_plot]
    assert [label.toPlainText() for label in labels] == ["prefetch off", "storage 6.5 ms", "batch 64",
                                                         "prefetch on"]
    rows = [label.orthoPos for label in labels]
    assert sorted(rows) == sorted(LABEL_ROWS), "four nearby markers, four rows"


def test_marker_labels_never_overlap_on_screen_at_a_narrow_width(qtbot):
    """As drawn: two changes 150 steps apart in a 470-pixel plot (the 1280x720 window), where
    pyqtgraph turns a label near the right edge to the left of its line."""
    from pipeviz.core.config import PipelineConfig
    from pipeviz.core.events import ConfigApplied
    from pipeviz.gui.plots import LivePlots
    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.resize(470, 600)
    plots.show()
    qtbot.waitExposed(plots)
    config = PipelineConfig()
    plots.add_steps([step(i, 1.0) for i in range(1, 520)])
    for at, new in ((62, config.replace(storage_latency_ms=28.8)), (212, config.replace(prefetch=0)),
                    (362, config.replace(prefetch=-1)), (372, config.replace(batch_size=64))):
        plots.mark(ConfigApplied(at, 0.0, new, changed=tuple(new.changed_fields(config))))
    plots.refresh()
    qtbot.wait(50)
    labels = [line.label for plot, line in plots._markers if plot is plots.idle_plot]
    boxes = [label.sceneBoundingRect() for label in labels]
    for i, a in enumerate(boxes):
        for j, b in enumerate(boxes[i + 1:], i + 1):
            assert not a.intersects(b), (labels[i].toPlainText(), labels[j].toPlainText())
