"""Buttons and knobs. Every knob change is sent at once (live) through `knob_changed`."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton,
                               QSlider, QSpinBox, QVBoxLayout, QWidget)

from pipeviz.core.balance import MATCH_SHARE
from pipeviz.core.config import AUTOTUNE, PipelineConfig, TrainerConfig
from pipeviz.core.knobs import CONTROL_TEXT

MAX_LATENCY_MS = 100.0
"""The slider's range: "= step" matches a slow machine's step (30-60 ms while other jobs share
this 2-core machine, 60-110 ms when four do) without reaching the end."""
SLIDER_STEPS = 1000  # 0.1 ms resolution


def latency_text(ms: float) -> str:
    """The latency as the row shows it: it is a simulation, and says so."""
    return f"{ms:.1f} ms/batch, simulated"


class ControlPanel(QWidget):
    start_clicked = Signal()
    pause_clicked = Signal()
    stop_clicked = Signal()
    reset_clicked = Signal()
    balance_clicked = Signal()
    epochs_changed = Signal(int)
    knob_changed = Signal(dict)  # PipelineConfig field -> new value

    def __init__(self, config: PipelineConfig, parent: QWidget | None = None):
        super().__init__(parent)
        self._quiet = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._buttons())
        layout.addWidget(self._knobs())
        layout.addStretch(1)
        self.set_config(config)

    def _buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause")
        self.stop_button = QPushButton("Stop")
        self.reset_button = QPushButton("Reset")
        for name, button, signal in (("startButton", self.start_button, self.start_clicked),
                                     ("pauseButton", self.pause_button, self.pause_clicked),
                                     ("stopButton", self.stop_button, self.stop_clicked),
                                     ("resetButton", self.reset_button, self.reset_clicked)):
            button.setObjectName(name)
            button.clicked.connect(signal)
            row.addWidget(button)
        self.start_button.setToolTip("Start training (Ctrl+R): a fresh model, or on from one loaded with File > Load model")
        self.pause_button.setToolTip("Pause or resume (Space)")
        self.reset_button.setToolTip("Stop and start over with an untrained model")
        return row

    def _knobs(self) -> QGroupBox:
        box = QGroupBox("Input pipeline (applies live)")
        form = QFormLayout(box)
        self.prefetch_toggle = QCheckBox(CONTROL_TEXT["prefetch"])
        self.prefetch_toggle.setObjectName("prefetchToggle")
        self.prefetch_size = QSpinBox()
        self.prefetch_size.setRange(0, 64)
        self.prefetch_size.setSpecialValueText("auto")
        self.prefetch_size.setToolTip("Prefetch buffer size in batches (auto = tf.data.AUTOTUNE)")
        prefetch_row = QHBoxLayout()
        prefetch_row.addWidget(self.prefetch_toggle)
        prefetch_row.addWidget(QLabel("buffer"))
        prefetch_row.addWidget(self.prefetch_size)
        form.addRow(prefetch_row)
        self.parallel_reads_toggle = QCheckBox(f"{CONTROL_TEXT['parallel_reads']} (4 shards at once)")
        self.parallel_reads_toggle.setObjectName("parallelReadsToggle")
        form.addRow(self.parallel_reads_toggle)
        self.parallel_map_toggle = QCheckBox(f"{CONTROL_TEXT['parallel_map']} (autotuned)")
        self.parallel_map_toggle.setObjectName("parallelMapToggle")
        form.addRow(self.parallel_map_toggle)
        self.augment_toggle = QCheckBox(CONTROL_TEXT["augment"])
        self.augment_toggle.setObjectName("augmentToggle")
        self.augment_toggle.setToolTip("Vary every training batch at random (warp, stroke "
                                       "thickness, elastic wobble, printed-style digits) so the "
                                       "model reads drawn digits right; costs CPU time per batch")
        self.parallel_augment_toggle = QCheckBox(f"{CONTROL_TEXT['parallel_augment']} (autotuned)")
        self.parallel_augment_toggle.setObjectName("parallelAugmentToggle")
        augment_row = QHBoxLayout()
        augment_row.addWidget(self.augment_toggle)
        augment_row.addWidget(self.parallel_augment_toggle)
        form.addRow(augment_row)
        self.cache_toggle = QCheckBox(f"{CONTROL_TEXT['cache']} in memory after the first pass")
        self.cache_toggle.setObjectName("cacheToggle")
        form.addRow(self.cache_toggle)
        self.batch_size_spin = QSpinBox()
        self.batch_size_spin.setObjectName("batchSizeSpin")
        self.batch_size_spin.setRange(1, 1024)
        form.addRow("Batch size", self.batch_size_spin)
        self.latency_slider = QSlider(Qt.Orientation.Horizontal)
        self.latency_slider.setObjectName("storageLatencySlider")
        self.latency_slider.setRange(0, SLIDER_STEPS)
        self.latency_label = QLabel()
        self.balance_button = QPushButton(CONTROL_TEXT["balance"])
        self.balance_button.setObjectName("balanceLatencyButton")
        self.balance_button.setToolTip("Set the latency so that loading a batch takes as long as "
                                       "the measured train step, where prefetching matters most")
        self.balance_button.clicked.connect(self.balance_clicked)
        self.latency_auto_toggle = QCheckBox(CONTROL_TEXT["latency_auto"])
        self.latency_auto_toggle.setObjectName("latencyAutoToggle")
        self.latency_auto_toggle.setChecked(True)
        self.latency_auto_toggle.setToolTip(
            f"At each Start, once the train step is measured, set the simulated latency so that "
            f"loading a batch takes {MATCH_SHARE:.0%} of a train step (\"= step\": all of it). "
            f"Moving the slider yourself turns this off.")
        self.latency_slider.actionTriggered.connect(lambda _: self.latency_auto_toggle.setChecked(False))
        self.latency_slider.setToolTip("Simulated slow storage: a sleep per read of one batch of "
                                       "records, inside tf.data's threads (no real disk is slowed)")
        latency_row = QHBoxLayout()
        latency_row.addWidget(self.latency_slider, 1)
        latency_row.addWidget(self.latency_label)
        latency_row.addWidget(self.balance_button)
        latency_box = QVBoxLayout()
        latency_box.addLayout(latency_row)
        latency_box.addWidget(self.latency_auto_toggle)
        form.addRow(CONTROL_TEXT["storage_latency_ms"], latency_box)
        self.epochs_spin = QSpinBox()
        self.epochs_spin.setObjectName("epochsSpin")
        self.epochs_spin.setRange(1, 1000)
        self.epochs_spin.setValue(TrainerConfig().epochs)
        self.epochs_spin.valueChanged.connect(self.epochs_changed)
        form.addRow("Epochs", self.epochs_spin)
        self.prefetch_toggle.toggled.connect(self._prefetch_changed)
        self.prefetch_size.valueChanged.connect(self._prefetch_changed)
        self.parallel_reads_toggle.toggled.connect(
            lambda on: self._send(parallel_reads=4 if on else 1))
        self.parallel_map_toggle.toggled.connect(
            lambda on: self._send(parallel_map=AUTOTUNE if on else 1))
        self.cache_toggle.toggled.connect(lambda on: self._send(cache=on))
        self.augment_toggle.toggled.connect(self._augment_changed)
        self.parallel_augment_toggle.toggled.connect(
            lambda on: self._send(parallel_augment=AUTOTUNE if on else 1))
        self.batch_size_spin.editingFinished.connect(
            lambda: self._send(batch_size=self.batch_size_spin.value()))
        self.latency_slider.valueChanged.connect(self._latency_changed)
        return box

    def set_latency_ms(self, ms: float) -> None:
        """Move the slider (this applies the latency like a user's drag)."""
        self.latency_slider.setValue(round(min(ms, MAX_LATENCY_MS) * SLIDER_STEPS / MAX_LATENCY_MS))

    def _latency_ms(self) -> float:
        return round(self.latency_slider.value() * MAX_LATENCY_MS / SLIDER_STEPS, 1)

    def _latency_changed(self) -> None:
        self.latency_label.setText(latency_text(self._latency_ms()))
        self._send(storage_latency_ms=self._latency_ms())

    def _prefetch_changed(self) -> None:
        self.prefetch_size.setEnabled(self.prefetch_toggle.isChecked())
        size = self.prefetch_size.value() or AUTOTUNE
        self._send(prefetch=size if self.prefetch_toggle.isChecked() else 0)

    def _augment_changed(self, on: bool) -> None:
        self.parallel_augment_toggle.setEnabled(on)
        self._send(augment=on)

    def _send(self, **changes) -> None:
        if not self._quiet:
            self.knob_changed.emit(changes)

    def set_config(self, config: PipelineConfig) -> None:
        """Show `config` without emitting changes."""
        self._quiet = True
        try:
            self.prefetch_toggle.setChecked(config.prefetch != 0)
            self.prefetch_size.setValue(0 if config.prefetch in (0, AUTOTUNE) else config.prefetch)
            self.prefetch_size.setEnabled(config.prefetch != 0)
            self.parallel_reads_toggle.setChecked(config.parallel_reads > 1)
            self.parallel_map_toggle.setChecked(config.parallel_map != 1)
            self.cache_toggle.setChecked(config.cache)
            self.augment_toggle.setChecked(config.augment)
            self.parallel_augment_toggle.setChecked(config.parallel_augment != 1)
            self.parallel_augment_toggle.setEnabled(config.augment)
            self.batch_size_spin.setValue(config.batch_size)
            self.latency_slider.setValue(round(config.storage_latency_ms * SLIDER_STEPS / MAX_LATENCY_MS))
            self.latency_label.setText(latency_text(config.storage_latency_ms))
        finally:
            self._quiet = False
