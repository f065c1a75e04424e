"""The lesson on first use (issue 11): with the settings a first launch has and nothing else
touched, Start, then untick Prefetch: the input wait rises by at least 25 points; tick it
again: it falls back. The guide strip leads there and the note names knobs that hide it."""
import os

import numpy as np
import pytest
from PySide6.QtCore import QSettings

from conftest import SHARED_MNIST

from pipeviz.core.config import PipelineConfig
from pipeviz.core.session import Session
from pipeviz.core.stepstats import WINDOW_STEPS
from pipeviz.gui.guide import GUIDE_DONE_KEY, LATENCY_AUTO_KEY
from pipeviz.gui.settings import load_pipeline_config
from pipeviz.gui.window import MainWindow


@pytest.fixture
def fresh(request, qtbot, small_data, tmp_path, step_loop, sweep_loop):
    """A window as a first launch makes it: empty settings, every knob at its default; on
    real MNIST where a test asks for it (`real_mnist` marker), as a user's first launch has
    it: 250 steps per epoch, where the small set's 37 would put an epoch start, with its
    empty buffers, in every 100-step window."""
    if request.node.get_closest_marker("real_mnist"):
        if not SHARED_MNIST.is_dir():
            if os.environ.get("CI"):
                pytest.fail(f"{SHARED_MNIST} is missing on CI")
            pytest.skip(f"{SHARED_MNIST} not present")
        data = SHARED_MNIST
    else:
        data = tmp_path / "small.npz"
        np.savez(data, x_train=small_data.train_images, y_train=small_data.train_labels)
    settings = QSettings(str(tmp_path / "fresh.ini"), QSettings.Format.IniFormat)
    made = []

    def launch():
        session = Session(data, pipeline_config=load_pipeline_config(settings),
                          cache_dir=tmp_path / "cache", step_loop=step_loop, sweep_loop=sweep_loop)
        win = MainWindow(session, settings)
        qtbot.addWidget(win)
        win.show()
        session.prepare()
        qtbot.waitUntil(lambda: win.controls.start_button.isEnabled(), timeout=60_000)
        made.append(win)
        return win
    yield launch, settings
    for win in made:
        win.close()


def wait_share(win) -> float:
    return win.plots.latest.input_wait_fraction


@pytest.mark.real_mnist
def test_untick_prefetch_on_first_launch_makes_the_wait_jump_and_return(fresh, qtbot):
    launch, settings = fresh
    win = launch()
    assert win.session.pipeline_config == PipelineConfig(), "a first launch has the defaults"
    assert win.lesson.strip.isVisible() and "Start" in win.lesson.strip.label.text()
    assert win.controls.latency_auto_toggle.isChecked()
    win.controls.start_button.click()
    # the simulated storage is matched to the measured step (a knob change, applied live)
    qtbot.waitUntil(lambda: win.session.pipeline_config.storage_latency_ms > 0, timeout=60_000)
    qtbot.waitUntil(lambda: "Untick" in win.lesson.strip.label.text(), timeout=10_000)
    matched = win.plots.last_step
    qtbot.waitUntil(lambda: win.plots.last_step >= matched + WINDOW_STEPS, timeout=60_000)
    with_prefetch = wait_share(win)

    win.controls.prefetch_toggle.click()  # off
    qtbot.waitUntil(lambda: wait_share(win) >= with_prefetch + 0.25, timeout=20_000)
    qtbot.waitUntil(lambda: "Tick" in win.lesson.strip.label.text(), timeout=5_000)
    without = wait_share(win)

    win.controls.prefetch_toggle.click()  # on again
    qtbot.waitUntil(lambda: wait_share(win) <= without - 0.25, timeout=20_000)
    assert win.lesson.strip.guide.done
    text = win.lesson.strip.label.text()
    assert "without" in text and "with it" in text
    assert settings.value(GUIDE_DONE_KEY) in (True, "true"), "done is remembered"


def test_note_names_a_knob_that_hides_prefetch_at_the_change(fresh, qtbot):
    launch, _ = fresh
    win = launch()
    assert not win.lesson.note.isVisible(), "nothing hides prefetch at a first launch"
    win.controls.parallel_reads_toggle.click()
    assert win.lesson.note.isVisible() and "reads in flight" in win.lesson.note.text()
    win.controls.cache_toggle.click()
    assert "from memory" in win.lesson.note.text()
    win.controls.parallel_reads_toggle.click()
    win.controls.cache_toggle.click()
    assert not win.lesson.note.isVisible()
    win.controls.latency_auto_toggle.click()  # off: latency 0 is now what the user has
    assert win.lesson.note.isVisible() and "= step" in win.lesson.note.text()


def test_guide_hidden_is_remembered_and_the_learn_tab_shows_it_again(fresh, qtbot):
    launch, settings = fresh
    win = launch()
    win.lesson.strip.hide_button.click()
    assert not win.lesson.strip.isVisible()
    win.controls.latency_slider.triggerAction(win.controls.latency_slider.SliderAction.SliderSingleStepAdd)
    assert not win.controls.latency_auto_toggle.isChecked(), "a hand-set latency stays as set"
    win.close()
    again = launch()
    assert not again.lesson.strip.isVisible() and not again.controls.latency_auto_toggle.isChecked()
    again.learn.findChild(object, "showGuideButton").click()
    assert again.lesson.strip.isVisible() and "Start" in again.lesson.strip.label.text()
    assert settings.value(LATENCY_AUTO_KEY) in (False, "false")
