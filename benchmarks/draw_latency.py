"""Draw to prediction: from the end of a mouse stroke to updated bars and activations,
while training runs.

Real mouse events draw a stroke on the canvas; the clock starts as the button is released
and stops when the release has been handled and the pending paints (bars, activations,
preview) have run. Target: median <= 15 ms, p95 <= 30 ms.

    python benchmarks/draw_latency.py [--data PATH] [--strokes 60]
"""
from __future__ import annotations

import time

import numpy as np

from common import parser_for, write_results
from live_window import run_with_training_window


def send(widget, kind, point, button, buttons) -> None:
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication
    pos = QPointF(*point)
    QApplication.sendEvent(widget, QMouseEvent(kind, pos, widget.mapToGlobal(pos), button, buttons,
                                               Qt.KeyboardModifier.NoModifier))


def main() -> None:
    parser = parser_for(__doc__, "draw_latency")
    parser.add_argument("--strokes", type=int, default=60)
    args = parser.parse_args()
    times: list[float] = []
    handled: list[float] = []

    def on_warm(app, window) -> None:
        from PySide6.QtCore import QEvent, Qt, QTimer
        left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
        canvas = window.canvas
        rng = np.random.default_rng(0)

        def stroke() -> None:
            canvas.clear()
            x = 40 + rng.integers(0, 90)
            points = [(x + 3 * np.sin(i / 3), 20 + 6 * i) for i in range(22)]
            send(canvas, QEvent.Type.MouseButtonPress, points[0], left, left)
            for p in points[1:]:
                send(canvas, QEvent.Type.MouseMove, p, none, left)
            before = window.prediction
            started = time.perf_counter()
            send(canvas, QEvent.Type.MouseButtonRelease, points[-1], left, none)
            handled.append(time.perf_counter() - started)  # bars and activations hold the new prediction
            app.processEvents()  # the paints the release scheduled (and whatever else is due)
            elapsed = time.perf_counter() - started
            assert window.prediction is not before, "the release did not update the prediction"
            times.append(elapsed)
            if len(times) < args.strokes:
                QTimer.singleShot(150, stroke)
            else:
                window.close()
                app.quit()
        stroke()

    run_with_training_window(args.data, 100, on_warm)
    ms, handled_ms = np.array(times) * 1e3, np.array(handled) * 1e3
    result = {"strokes": len(ms), "median_ms": round(float(np.median(ms)), 2),
              "p95_ms": round(float(np.percentile(ms, 95)), 2), "max_ms": round(float(ms.max()), 2),
              "handled_median_ms": round(float(np.median(handled_ms)), 2),
              "handled_p95_ms": round(float(np.percentile(handled_ms, 95)), 2)}
    print(f"{'':<24} {'median':>8} {'p95':>8} {'max':>8}")
    print(f"{'prediction updated (ms)':<24} {result['handled_median_ms']:>8} {result['handled_p95_ms']:>8}")
    print(f"{'...and painted (ms)':<24} {result['median_ms']:>8} {result['p95_ms']:>8} {result['max_ms']:>8}"
          "  target: median <= 15, p95 <= 30")
    write_results(args.out, result)


if __name__ == "__main__":
    main()
