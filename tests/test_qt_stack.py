"""The Qt binding and pyqtgraph pair must survive a live plot: some pairs abort the
interpreter within seconds of a setData loop (pyqtgraph 0.14.0 + PySide6 6.12.0). Run in a
child process so an abort fails this test instead of killing the whole run."""
import subprocess
import sys

LIVE_PLOT = r"""
import os, numpy as np
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from PySide6 import QtWidgets
import pyqtgraph as pg
app = QtWidgets.QApplication([])
plot = pg.PlotWidget()
plot.resize(640, 360)
plot.show()
curves = [plot.plot(pen=c) for c in "rgb"]
rng = np.random.default_rng(0)
for frame in range(400):
    x = np.arange(frame, frame + 500)
    for curve in curves:
        curve.setData(x, rng.random(500))
    plot.setTitle(f"frame {frame}")
    plot.repaint()
    app.processEvents()
print("painted", frame + 1)
"""


def test_live_pyqtgraph_repaint_survives():
    result = subprocess.run([sys.executable, "-c", LIVE_PLOT], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr[-2000:]}"
    assert "painted 400" in result.stdout
