"""Drawn digits: how often the app reads a digit drawn with the mouse on its canvas right.

Seven pen styles of the ten digits (benchmarks/glyphs.py, written for this benchmark and
shared with nothing the model trains on) are drawn as mouse strokes, sent as real mouse
events to the app's `DigitCanvas` widget at the window's size, at five sizes (30-90% of the
canvas height), centred and off-centre, rotated up to 10 degrees, slanted a little, with a
hand's wobble. Each drawing goes through the app's own preprocessing (`core.digits.to_mnist`)
and the model; accuracy is reported overall, per digit, per size, per style and per position.

The model is the one the app trains by default: `Session` with `TrainerConfig(epochs=5)`,
otherwise defaults, on the real MNIST split, saved with `save_model` (or `--model FILE`).

    python benchmarks/drawn_digits.py [--data PATH] [--model FILE.keras] [--repeats 2]

`--hershey` draws seven Hershey stroke fonts instead (typeset and script digits designed by
someone else entirely: a cross-check that the styles here were not tuned to the model);
it needs `pip install hershey-fonts`, which pipeviz itself does not.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from common import parser_for, write_results
from glyphs import ASPECT, SLANT, STYLES
from pipeviz.core.state import WorkerState

SIZES = (0.3, 0.45, 0.6, 0.75, 0.9)
"""Digit height as a fraction of the canvas height."""
POSITIONS = ("centred", "off-centre")
WIDGET = 170
"""The canvas's side in the window (gui/digitpanel.py CANVAS_PX), in widget pixels."""


def _resample(points: np.ndarray, spacing: float) -> np.ndarray:
    """Points every `spacing` pixels along the polyline: what a mouse reports while moving."""
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    dist = np.concatenate([[0], np.cumsum(seg)])
    if dist[-1] == 0:
        return points[:1]
    at = np.linspace(0, dist[-1], max(2, int(dist[-1] / spacing) + 1))
    return np.stack([np.interp(at, dist, points[:, 0]), np.interp(at, dist, points[:, 1])], axis=1)


def _wobble(points: np.ndarray, amplitude: float, rng: np.random.Generator) -> np.ndarray:
    """A hand's wobble: slow sines along the stroke plus a little jitter."""
    s = np.arange(len(points))[:, None]
    phase, freq = rng.uniform(0, 2 * np.pi, (2, 2)), rng.uniform(0.04, 0.12, (2, 2))
    slow = sum(np.sin(s * freq[k] + phase[k]) for k in range(2)) / 2
    return points + amplitude * slow + rng.normal(0, amplitude * 0.15, points.shape)


def layout(glyph: list, aspect: float, slant: float, size: float, position: str,
           rng: np.random.Generator) -> list[np.ndarray]:
    """The strokes of one drawing in widget pixels: glyph -> aspect, slant, rotation up to
    10 degrees, scaled to `size` of the canvas height, placed centred or off-centre, wobbled."""
    height = size * WIDGET
    angle = np.radians(rng.uniform(-10, 10))
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    shaped = []
    for stroke in glyph:
        p = np.array(stroke, float)
        p[:, 0] = (p[:, 0] - 0.5 + slant * (0.5 - p[:, 1])) * aspect
        p[:, 1] -= 0.5
        shaped.append(p @ rot.T * height)
    allp = np.concatenate(shaped)
    lo, hi = allp.min(axis=0), allp.max(axis=0)
    margin = 6.0
    centre = np.array([WIDGET / 2, WIDGET / 2]) - (lo + hi) / 2
    if position == "off-centre":
        room_lo = margin - lo - centre  # how far it can move before leaving the canvas
        room_hi = WIDGET - margin - hi - centre
        centre = centre + np.array([rng.uniform(min(0, r0), max(0, r1)) for r0, r1 in zip(room_lo, room_hi)])
    else:
        centre = centre + rng.normal(0, 2.0, 2)
    strokes = []
    for p in shaped:
        points = _resample(p + centre, spacing=rng.uniform(2.0, 4.0))
        points = _wobble(points, amplitude=0.012 * height + 0.4, rng=rng)
        strokes.append(np.clip(points, 1, WIDGET - 2))
    return strokes


def draw(canvas, strokes: list[np.ndarray]) -> None:
    """Send the strokes to the canvas as real mouse events (press, moves, release)."""
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton

    def send(kind, point, button, buttons) -> None:
        pos = QPointF(float(point[0]), float(point[1]))
        QApplication.sendEvent(canvas, QMouseEvent(kind, pos, canvas.mapToGlobal(pos), button, buttons,
                                                   Qt.KeyboardModifier.NoModifier))
    canvas.clear()
    for stroke in strokes:
        send(QEvent.Type.MouseButtonPress, stroke[0], left, left)
        for point in stroke[1:]:
            send(QEvent.Type.MouseMove, point, none, left)
        send(QEvent.Type.MouseButtonRelease, stroke[-1], left, none)


def drawings(repeats: int, seed: int = 0, styles: dict | None = None):
    """Every (style, digit, size, position) `repeats` times: (labels dict, 28x28 model input).
    `styles`: name -> (glyphs per digit, aspect, slant); default: benchmarks/glyphs.py."""
    styles = styles or {name: (STYLES[name], ASPECT[name], SLANT.get(name, 0.0)) for name in STYLES}
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from pipeviz.core.digits import to_mnist
    from pipeviz.gui.canvas import DigitCanvas

    app = QApplication.instance() or QApplication(sys.argv[:1])
    canvas = DigitCanvas()
    canvas.setFixedSize(WIDGET, WIDGET)
    canvas.show()
    app.processEvents()
    rng = np.random.default_rng(seed)
    rows, images = [], []
    for style, (glyphs, aspect, slant) in styles.items():
        for digit in range(10):
            for size in SIZES:
                for position in POSITIONS:
                    for _ in range(repeats):
                        shape = aspect[digit] if isinstance(aspect, (list, tuple)) else aspect
                        draw(canvas, layout(glyphs[digit], shape, slant, size, position, rng))
                        rows.append({"style": style, "digit": digit, "size": size, "position": position})
                        images.append(to_mnist(canvas.drawing()))
    canvas.close()
    return rows, np.stack(images)


HERSHEY_FONTS = ("futural", "futuram", "rowmant", "timesi", "scripts", "scriptc", "cursive")


def hershey_styles() -> dict:
    """The digits of seven Hershey fonts as unit-box strokes: name -> (glyphs, aspects, 0)."""
    from HersheyFonts import HersheyFonts

    styles = {}
    for name in HERSHEY_FONTS:
        font = HersheyFonts()
        font.load_default_font(name)
        glyphs, aspects = {}, []
        for digit in range(10):
            strokes: list[list] = []
            for start, end in font.lines_for_text(str(digit)):
                if strokes and np.allclose(strokes[-1][-1], start):
                    strokes[-1].append(end)
                else:
                    strokes.append([start, end])
            points = np.concatenate([np.array(s, float) for s in strokes])
            lo, hi = points.min(axis=0), points.max(axis=0)
            size = np.maximum(hi - lo, 1e-9)
            glyphs[digit] = [list(zip((np.array(s)[:, 0] - lo[0]) / size[0] if hi[0] > lo[0] else
                                      np.full(len(s), 0.5), (np.array(s)[:, 1] - lo[1]) / size[1]))
                             for s in strokes]
            aspects.append(max(size[0] / size[1], 0.01))
        styles[name] = (glyphs, aspects, 0.0)
    return styles


def train_default_model(data: str, path: Path) -> dict:
    """Train as the app does by default (5 epochs) and save the model; its history."""
    from pipeviz.core.config import TrainerConfig
    from pipeviz.core.events import StateChanged
    from pipeviz.core.session import Session

    session = Session(data, trainer_config=TrainerConfig(epochs=5), write_scalars=False)
    session.prepare()
    while not session.ready:
        for event in session.channel.drain():
            if isinstance(event, StateChanged) and event.state == WorkerState.ERROR:
                raise SystemExit(f"preparing the data failed: {event.detail}")
        time.sleep(0.2)
    started = time.perf_counter()
    session.start()
    session.trainer.join()
    seconds = time.perf_counter() - started
    if session.trainer.state != WorkerState.FINISHED:
        raise SystemExit(f"training ended {session.trainer.state}")
    session.save_model(path)
    history = session.trainer.history
    session.close()
    return {"train_seconds": round(seconds, 1), "val_accuracy": round(history[-1].val_accuracy, 4),
            "val_accuracy_per_epoch": [round(h.val_accuracy, 4) for h in history]}


def accuracy_table(rows: list[dict], hits: np.ndarray, key: str) -> dict:
    values = sorted({r[key] for r in rows}, key=lambda v: (str(type(v)), v))
    return {str(v): round(float(np.mean([h for r, h in zip(rows, hits) if r[key] == v])), 4)
            for v in values}


def main() -> None:
    parser = parser_for(__doc__, "drawn_digits")
    parser.add_argument("--model", help="a saved .keras model (default: train one as the app does)")
    parser.add_argument("--save-model", help="where the model trained here is saved (default: a "
                        "temporary folder)")
    parser.add_argument("--repeats", type=int, default=2,
                        help="drawings per style, digit, size and position (%(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hershey", action="store_true",
                        help="draw seven Hershey fonts instead (needs pip install hershey-fonts)")
    args = parser.parse_args()
    from pipeviz.core.model import load_model

    result: dict = {}
    if args.model:
        model_path = Path(args.model)
    else:
        model_path = Path(args.save_model or Path(tempfile.mkdtemp(prefix="pipeviz-drawn-")) / "model.keras")
        result["training"] = train_default_model(args.data, model_path)
        print(f"trained 5 epochs in {result['training']['train_seconds']} s, held-out accuracy "
              f"{result['training']['val_accuracy']:.4f}")
    model = load_model(model_path)
    rows, images = drawings(args.repeats, args.seed, hershey_styles() if args.hershey else None)
    probs = model.predict(images[..., None], batch_size=256, verbose=0)
    predicted = probs.argmax(axis=1)
    labels = np.array([r["digit"] for r in rows])
    hits = predicted == labels
    confusion = np.zeros((10, 10), int)
    np.add.at(confusion, (labels, predicted), 1)
    result.update({
        "drawings": len(rows), "overall": round(float(hits.mean()), 4),
        **{f"per_{key}": accuracy_table(rows, hits, key) for key in ("digit", "size", "style", "position")},
        "confusion": confusion.tolist(),
        "wrong_confidence_median": round(float(np.median(probs.max(axis=1)[~hits])), 3) if (~hits).any() else None,
    })
    result["styles_from"] = "Hershey fonts (hershey-fonts)" if args.hershey else "benchmarks/glyphs.py"
    print(f"{len(rows)} drawings, overall {result['overall']:.1%}")
    for key in ("digit", "size", "style", "position"):
        table = result[f"per_{key}"]
        print(f"\nper {key}:")
        print("  " + " ".join(f"{k:>9}" for k in table))
        print("  " + " ".join(f"{v:>9.1%}" for v in table.values()))
    print("\nconfusion (rows: drawn, columns: read):")
    for d in range(10):
        print(f"  {d}: " + " ".join(f"{c:>3}" for c in confusion[d]))
    write_results(args.out, result)


if __name__ == "__main__":
    main()
