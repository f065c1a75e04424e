"""Make docs/screenshot.png (the lesson as a first launch gives it) or, with --experiment,
docs/experiment.png (a measured sweep of every config) and docs/timeline.png.

A first launch on real MNIST: empty settings, every knob at its default. It presses Start;
once the window has matched the storage latency to the step, it waits 150 steps, unticks
Prefetch (through the checkbox a user clicks, as the guide strip asks), ticks it again 150
steps later, and saves the window 150 steps after that, at `--size` (1280x720 by default).
Steps, not seconds, trigger each, so the picture does not depend on the machine's speed.

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
    parser.add_argument("--latency-ms", type=float, default=4.0,
                        help="the experiment's storage latency")
    parser.add_argument("--size", default="1280x720", help="window size, WIDTHxHEIGHT")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))

    import tempfile

    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from pipeviz.core.config import PipelineConfig, preset
    from pipeviz.core.session import Session
    from pipeviz.core.state import WorkerState
    from pipeviz.gui.settings import load_pipeline_config
    from pipeviz.gui.window import MainWindow

    app = QApplication(sys.argv[:1])
    settings = QSettings(str(Path(tempfile.mkdtemp(prefix="pipeviz-shot-")) / "fresh.ini"),
                         QSettings.Format.IniFormat)  # a first launch: nothing saved
    config = (preset("naive", PipelineConfig(storage_latency_ms=args.latency_ms))
              if args.experiment else load_pipeline_config(settings))
    session = Session(args.data, pipeline_config=config)
    window = MainWindow(session, settings)
    window.resize(width, height)
    window.show()
    session.prepare()
    marks: dict[str, int] = {}

    def poll() -> None:
        step = session.trainer.global_step if session.trainer else 0
        if "matched" not in marks and session.pipeline_config.storage_latency_ms > 0:
            marks["matched"] = step
        elif "matched" in marks and "off" not in marks and step >= marks["matched"] + 150:
            marks["off"] = step
            window.controls.prefetch_toggle.click()
        elif "off" in marks and "on" not in marks and step >= marks["off"] + 150:
            marks["on"] = step
            window.controls.prefetch_toggle.click()
        elif "on" in marks and step >= marks["on"] + 150:
            window.resize(width, height)
            window.grab().save(args.out)
            print(f"steps: {marks}; saved {args.out} at {width}x{height}")
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
