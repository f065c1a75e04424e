"""The window, offscreen, driven as a user would. Qt failing to load fails these tests."""
import numpy as np
import pytest
from PySide6.QtWidgets import QCheckBox, QPushButton, QSlider, QSpinBox, QTableWidget

from pipeviz.core.config import PipelineConfig, TrainerConfig
from pipeviz.core.session import Session
from pipeviz.gui.window import MainWindow, bottleneck_text


@pytest.fixture
def window(qtbot, small_data, tmp_path):
    npz = tmp_path / "small.npz"
    np.savez(npz, x_train=small_data.train_images, y_train=small_data.train_labels)
    session = Session(npz, pipeline_config=PipelineConfig(storage_latency_ms=2),
                      trainer_config=TrainerConfig(epochs=50), cache_dir=tmp_path / "cache")
    win = MainWindow(session)
    qtbot.addWidget(win)
    win.show()
    session.prepare()
    qtbot.waitUntil(lambda: session.ready and win.controls.start_button.isEnabled(), timeout=60_000)
    yield win
    win.close()
    assert not session.training


def test_widgets_have_stable_names(window):
    for name, kind in (("startButton", QPushButton), ("pauseButton", QPushButton),
                       ("stopButton", QPushButton), ("prefetchToggle", QCheckBox),
                       ("parallelReadsToggle", QCheckBox), ("storageLatencySlider", QSlider),
                       ("batchSizeSpin", QSpinBox), ("epochTable", QTableWidget)):
        assert window.findChild(kind, name) is not None, name
    for name in ("pipelineDiagram", "lossPlot", "accuracyPlot", "idlePlot"):
        assert window.findChild(object, name) is not None, name
    assert "small.npz" in window.source_label.text()


def test_training_shows_real_steps_and_prefetch_toggles_live(window, qtbot):
    window.controls.start_button.click()
    qtbot.waitUntil(lambda: window.plots.last_step >= 20, timeout=60_000)
    assert len(window.plots.series["loss"]) >= 20
    x, y = window.plots.loss_raw.getData()
    assert len(x) >= 20 and np.all(np.isfinite(y))
    assert window.diagram.buffer_enabled

    window.controls.prefetch_toggle.click()  # off, mid-epoch
    trainer = window.session.trainer
    qtbot.waitUntil(lambda: trainer.pipeline_config.prefetch == 0, timeout=10_000)
    qtbot.waitUntil(lambda: not window.diagram.buffer_enabled, timeout=5_000)
    qtbot.waitUntil(lambda: len(window.plots._markers) >= 3, timeout=10_000)
    steps_before = window.plots.last_step
    qtbot.waitUntil(lambda: window.plots.last_step > steps_before + 10, timeout=30_000)


def test_closing_mid_training_stops_the_worker(window, qtbot):
    window.controls.start_button.click()
    qtbot.waitUntil(lambda: window.plots.last_step >= 5, timeout=60_000)
    trainer = window.session.trainer
    window.close()
    assert not trainer.is_alive()
    assert trainer.state == "stopped"


def test_bottleneck_text():
    from test_events import step
    assert bottleneck_text([step(1, wall=0.01, compute=0.003, wait=0.006)]).startswith("input-bound: 60%")
    assert bottleneck_text([step(1, wall=0.01, compute=0.009, wait=0.0005)]).startswith("compute-bound")
    assert bottleneck_text([]) == ""
