"""Shared set-up for the GUI benchmarks: the real window, offscreen, training on real MNIST
at full speed (no storage latency, default pipeline), with a hook once warm."""
from __future__ import annotations

import os
import sys


def run_with_training_window(data: str, warmup_steps: int, on_warm) -> int:
    """Start the app's window, train, and call `on_warm(app, window)` once `warmup_steps`
    steps have trained (tracing and the first shuffle fill are behind)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from pipeviz.core.config import TrainerConfig
    from pipeviz.core.session import Session
    from pipeviz.core.state import WorkerState
    from pipeviz.gui.window import MainWindow

    app = QApplication(sys.argv[:1])
    session = Session(data, trainer_config=TrainerConfig(epochs=1000), write_scalars=False)
    window = MainWindow(session)
    window.resize(1280, 800)
    window.show()
    session.prepare()

    def wait_warm() -> None:
        if session.trainer is not None and session.trainer.global_step >= warmup_steps:
            on_warm(app, window)
        else:
            QTimer.singleShot(100, wait_warm)

    def on_state(event) -> None:
        if event.state == WorkerState.READY and session.trainer is None:
            window.start_training()
            wait_warm()

    window.bridge.state.connect(on_state)
    status = app.exec()
    # As the app does on exit: every worker stopped, and the interpreter's last collection
    # (seconds over TensorFlow's objects) skipped for what is still alive.
    if not session.close(10.0):
        print("warning: a worker did not stop within 10 s", file=sys.stderr)
    import gc
    gc.freeze()
    return status
