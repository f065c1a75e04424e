"""Make docs/screenshot.png (the prefetch story in one picture) or, with --experiment,
docs/experiment.png (a measured sweep of every config) and docs/timeline.png.

Trains on real MNIST with a 4 ms/batch storage latency and prefetch off, switches prefetch
on at step 70 (through the same checkbox a user clicks), and saves the window at step 200.
Steps, not seconds, trigger both, so the picture does not depend on the machine's speed.

    QT_QPA_PLATFORM=offscreen python docs/make_screenshot.py [--data PATH] [--out PNG]
    QT_QPA_PLATFORM=offscreen python docs/make_screenshot.py --experiment [--latency-ms 4]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshot.png"))
    parser.add_argument("--experiment", action="store_true",
                        help="run a sweep and save docs/experiment.png and docs/timeline.png")
    parser.add_argument("--latency-ms", type=float, default=4.0)
    args = parser.parse_args()

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from pipeviz.core.config import PipelineConfig, preset
    from pipeviz.core.session import Session
    from pipeviz.core.state import WorkerState
    from pipeviz.gui.window import MainWindow

    app = QApplication(sys.argv[:1])
    config = preset("naive", PipelineConfig(storage_latency_ms=args.latency_ms, shuffle_buffer=256))
    session = Session(args.data, pipeline_config=config)
    window = MainWindow(session)
    window.resize(1280, 800)
    window.show()
    session.prepare()

    def poll() -> None:
        step = session.trainer.global_step if session.trainer else 0
        if step >= 70 and not window.controls.prefetch_toggle.isChecked():
            window.controls.prefetch_toggle.click()
        if step >= 200:
            window.grab().save(args.out)
            window.close()
            app.quit()
            return
        QTimer.singleShot(50, poll)

    def on_sweep_done(finished) -> None:
        if type(finished).__name__ != "SweepFinished":
            return
        window.experiment.timeline_combo.setCurrentIndex(0)  # naive: the staircase
        window.grab().save(str(ROOT / "docs" / "experiment.png"))
        window.experiment.timeline_combo.setCurrentIndex(1)  # prefetch: overlap
        window.experiment.timeline.grab().save(str(ROOT / "docs" / "timeline.png"))
        window.close()
        app.quit()

    def on_state(event) -> None:
        if event.state == WorkerState.READY and args.experiment:
            window.bridge.other.connect(on_sweep_done)
            window.run_experiment(200)
        elif event.state == WorkerState.READY:
            window.start_training()
            images, _ = session.sample_images
            window.canvas.set_digit(images[7])
            poll()
        elif event.state == WorkerState.ERROR:
            app.exit(1)

    window.bridge.state.connect(on_state)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
