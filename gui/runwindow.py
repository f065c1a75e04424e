"""The window `pipeviz run train.py` opens: a view over the event stream of the user's script.

The script runs in a child process (core/watch/runner.py `ChildRun`); its events arrive on
an `EventChannel`, which the `EventBridge` drains on the GUI thread about 30 times a second.
Every event is folded into one `RunSummary` (the object `--report` and `--json` read too),
and each frame the window redraws from it, once, and only when something arrived: the
header (the command, the run's state, the verdict in TensorBoard's words), a stall banner,
the user's pipeline (gui/stagediagram.py), the live plots (gui/runplots.py), the advice and,
when the script raised, its traceback. Closing the window asks the child to stop and returns
at once; `ChildRun` ends it within 3 s from its own thread.
"""
from __future__ import annotations

import logging
import os
import signal
import sys
import time
from html import escape
from pathlib import Path
from typing import Sequence

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import (QGroupBox, QHBoxLayout, QLabel, QMainWindow, QPlainTextEdit,
                               QSplitter, QVBoxLayout, QWidget)

from pipeviz.core.events import ErrorEvent, EventChannel, StepEvent
from pipeviz.core.stepstats import HIGHLY_INPUT_BOUND, MODERATELY_INPUT_BOUND, input_verdict
from pipeviz.core.watch import history
from pipeviz.core.watch.advice import RunAdvice, advise
from pipeviz.core.watch.events import EpochLogs, StepMetrics
from pipeviz.core.watch.history import Comparison, LastRun
from pipeviz.core.watch.report import NEVER_TRAINED, THRESHOLDS, comparison_lines
from pipeviz.core.watch.summary import RunSummary

from . import theme
from .bridge import EventBridge
from .diagram import WAITING
from .pages import scrolling
from .plots import COMPUTE_COLOR, VALIDATION
from .runplots import RunPlots
from .stagediagram import NO_STAGES_TEXT, StageDiagram

log = logging.getLogger(__name__)

NO_STEPS_TEXT = "The script ran no training steps."
ADVICE_EVERY_S = 1.0
"""The advice is re-read this often while steps arrive (and once more when the run ends)."""
VERDICT_COLORS = {input_verdict(HIGHLY_INPUT_BOUND): WAITING,
                  input_verdict(MODERATELY_INPUT_BOUND): ((150, 110, 0), (230, 190, 80)),
                  input_verdict(0.0): ((30, 120, 60), COMPUTE_COLOR)}
"""The verdict's colour backs its words (never alone): orange where the input starves the
step, amber in between, green where the step computes."""
BANNER_COLORS = {"stall": WAITING, "error": VALIDATION, "info": ((90, 90, 90), (190, 190, 190))}


# ----- what the header says (plain functions: the tests read what is shown) -------------------
UNNAMED_SCRIPT = "a script watched with pipeviz.watch"
"""The command line of a run whose script did not say its name (`pipeviz view`)."""


def command_text(script: str | None, argv: Sequence[str]) -> str:
    """The script and its arguments, as the user would type them after `pipeviz run`."""
    if not script:
        return UNNAMED_SCRIPT
    return " ".join([os.path.basename(script) or script, *argv])


def run_state(summary: RunSummary, stop_requested: bool) -> str:
    """starting / training / stalled while the script runs; finished (exit code 0) / failed
    (exit code n) / ended by signal n / stopped once it ended (stopped: pipeviz ended it on
    request)."""
    done = summary.finished
    if done is None:
        if stop_requested:
            return "stopping"
        if summary.stalled is not None:
            return "stalled"
        return "training" if summary.steps or summary.fit is not None else "starting"
    if stop_requested:
        return f"stopped (exit code {done.exit_code})"
    if done.exit_code < 0:  # killed from outside (the OOM killer, a kill): no exit code
        return f"ended by signal {-done.exit_code}"
    return "finished (exit code 0)" if done.exit_code == 0 else f"failed (exit code {done.exit_code})"


def progress_text(summary: RunSummary) -> str:
    """"epoch 2 · step 340": where the training is (empty before its first step)."""
    step = summary.last_step
    return "" if step is None else f"epoch {step.epoch + 1} · step {step.step}"


def share_text(summary: RunSummary) -> str:
    """The input-wait share the verdict judges (the whole run's steps, as RunSummary's)."""
    if not summary.steps:
        return ""
    stats = summary.stats
    between = (f" (the {100 * stats.between_fraction:.0f}% of the time between steps left out)"
               if stats.between_fraction >= 0.01 else "")
    return (f"{100 * stats.step_wait_fraction:.0f}% of step time waiting for input{between} · "
            f"{stats.steps:,} steps, {stats.images_per_s:,.0f} examples/s")


def thresholds_tip() -> str:
    """The verdict's tooltip: the scale it is judged on."""
    return f"{THRESHOLDS}; the share is input wait over the time in steps, the whole run."


def verdict_text(summary: RunSummary) -> str:
    """The headline: RunSummary's verdict once steps ran; what is awaited before that."""
    if summary.steps:
        return summary.verdict
    if summary.finished is not None:
        return NO_STEPS_TEXT
    return "Waiting for the first training step…"


def stall_text(summary: RunSummary) -> str:
    stalled = summary.stalled
    if stalled is None:
        return ""
    return f"Input stalled: no batch for {stalled.seconds:.0f} s. {stalled.detail}"


def _advice_lines(summary: RunSummary, comparison: Comparison | None = None) -> list[str]:
    """The advice panel's paragraphs (HTML): core/watch/advice.py's advice for the run so
    far, each change with its evidence and predicted gain, as `--report` prints them; and,
    once the run ended, how it compares with the last run of the same script."""
    examples_per_s = summary.stats.images_per_s
    lines = [advice_html(item, examples_per_s) for item in advise(summary)]
    if comparison is not None:
        lines.append("<br>".join(escape(line.strip()) for line in comparison_lines(comparison)))
    return lines


def advice_html(item: RunAdvice, examples_per_s: float) -> str:
    """One piece of advice: the change in bold, the figures behind it, the prediction."""
    text = f"<b>{escape(item.text)}</b><br>{escape(item.why)}"
    if item.predicted_gain is not None and item.predicted_examples_per_s is not None:
        text += (f"<br><i>Predicted: {item.predicted_gain:+.0%} examples/s "
                 f"({examples_per_s:,.1f} → {item.predicted_examples_per_s:,.1f}).</i>")
    return text


# ----- the window -----------------------------------------------------------------------------
class RunWindow(QMainWindow):
    """A view of one watched run. `run` is a `ChildRun`, a `Listener` (`pipeviz view`) or
    anything with `request_stop()` (and, if it has them, `script`, `args`, `stop_requested`);
    `channel` is where its events arrive."""

    def __init__(self, run, channel: EventChannel, previous: LastRun | None = None,
                 parent: QWidget | None = None):
        """`previous`: the last run of the same script (history.py), compared with this
        one once it ends."""
        super().__init__(parent)
        self.run = run
        self.summary = RunSummary()
        self.previous = previous
        self.comparison: Comparison | None = None
        self.bridge = EventBridge(channel, self)
        self._dirty = True
        self._advice_at = 0.0
        self.advice_lines: list[str] = []
        self._advice_stale = True
        """Events came since the advice was last read (it is re-read at most once a second)."""
        self._stages_shown = None
        self._banner_kind = ""
        """What the banner shows ("stall", "error", "info" or ""): its colours."""
        self._build()
        self._connect()
        self.setWindowTitle(f"pipeviz: {self._command()}")
        self.resize(1280, 720)
        self.bridge.start()
        self._redraw()

    # ----- composition -------------------------------------------------------------------------
    def _build(self) -> None:
        self.stages = StageDiagram()
        self.stage_note = QLabel("", objectName="stageNote", wordWrap=True, visible=False)
        self.plots = RunPlots()
        self.traceback = QPlainTextEdit(objectName="tracebackPane", readOnly=True)
        self.traceback.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.traceback.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.traceback_box = QGroupBox("The script raised", objectName="tracebackBox", visible=False)
        QVBoxLayout(self.traceback_box).addWidget(self.traceback)
        self.lower = lower = QSplitter(Qt.Orientation.Vertical, objectName="runLowerSplitter")
        lower.addWidget(self._plots_row())
        lower.addWidget(self.traceback_box)
        lower.setStretchFactor(0, 3)
        lower.setStretchFactor(1, 2)
        lower.setCollapsible(0, False)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(4)
        layout.addWidget(self._header())
        layout.addWidget(self.banner)
        layout.addWidget(self.stages)
        layout.addWidget(self.stage_note)
        layout.addWidget(lower, 1)
        self.setCentralWidget(central)

    def _header(self) -> QWidget:
        """The command and the run's state on one line; the verdict big below it."""
        self.command_label = QLabel("", objectName="commandLabel")
        self.command_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        mono.setPointSizeF(self.font().pointSizeF() * 1.1)
        self.command_label.setFont(mono)
        self.state_label = QLabel("", objectName="runStateLabel",
                                  alignment=Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        bold = QFont(self.font())
        bold.setBold(True)
        self.state_label.setFont(bold)
        self.verdict_label = QLabel("", objectName="verdictLabel")
        big = QFont(self.font())
        big.setPointSizeF(self.font().pointSizeF() * 1.8)
        big.setBold(True)
        self.verdict_label.setFont(big)
        self.verdict_label.setToolTip(thresholds_tip())
        self.share_label = QLabel("", objectName="shareLabel", wordWrap=True)
        share_font = QFont(self.font())
        share_font.setPointSizeF(self.font().pointSizeF() * 1.2)
        self.share_label.setFont(share_font)
        self.banner = QLabel("", objectName="runBanner", wordWrap=True, visible=False)
        self.banner.setContentsMargins(8, 4, 8, 4)
        header = QWidget(objectName="runHeader")
        grid = QVBoxLayout(header)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(0)
        top = QHBoxLayout()
        top.addWidget(self.command_label, 1)
        top.addWidget(self.state_label)
        verdict = QHBoxLayout()
        verdict.addWidget(self.verdict_label)
        verdict.addSpacing(16)
        verdict.addWidget(self.share_label, 1)
        grid.addLayout(top)
        grid.addLayout(verdict)
        return header

    def _plots_row(self) -> QWidget:
        """The plots, and the advice beside them (the advice column stays narrow)."""
        self.advice_box = QGroupBox("Advice", objectName="runAdviceBox")
        self.advice_label = QLabel("", objectName="runAdviceText", wordWrap=True,
                                   alignment=Qt.AlignmentFlag.AlignTop)
        self.advice_label.setTextFormat(Qt.TextFormat.RichText)
        self.advice_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        page = QWidget()
        page_layout = QVBoxLayout(page)
        page_layout.setContentsMargins(0, 0, 4, 0)
        page_layout.addWidget(self.advice_label)
        page_layout.addStretch(1)
        box_layout = QVBoxLayout(self.advice_box)
        box_layout.setContentsMargins(4, 4, 0, 4)
        box_layout.addWidget(scrolling(page, "runAdviceScroll"))  # long advice scrolls
        self.advice_box.setFixedWidth(320)
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plots, 1)
        layout.addWidget(self.advice_box)
        return row

    def _connect(self) -> None:
        self.bridge.steps.connect(self._on_steps)
        self.bridge.other.connect(self._on_event)
        self.bridge.error.connect(lambda message: self._on_event(ErrorEvent(message)))
        self.bridge.tick.connect(self._redraw)

    # ----- events (GUI thread, from the bridge) -------------------------------------------------
    def _on_steps(self, steps: list[StepEvent]) -> None:
        self.summary.add_steps(steps)
        self.plots.add_steps(steps)
        self._dirty = True

    def _on_event(self, event) -> None:
        self.summary.add(event)
        if isinstance(event, StepMetrics):
            self.plots.add_metrics(event)
        elif isinstance(event, EpochLogs):
            self.plots.add_epoch(event)
        self._dirty = True

    # ----- drawing: once per frame, only when something arrived ---------------------------------
    def _redraw(self) -> None:
        if self._dirty:
            self._dirty = False
            self._advice_stale = True
            self._draw()
        if self._advice_stale and (self.summary.finished is not None or not self.advice_lines
                                   or time.monotonic() - self._advice_at >= ADVICE_EVERY_S):
            self._show_advice()

    def _show_advice(self) -> None:
        self._advice_at, self._advice_stale = time.monotonic(), False
        if self.summary.finished is not None and self.previous is not None \
                and self.comparison is None:
            self.comparison = history.compare(self.previous, self.summary)
        self.advice_lines = _advice_lines(self.summary, self.comparison)
        self._set(self.advice_label, "<br><br>".join(self.advice_lines) or
                  "The advice reads the script's steps once training starts.")

    def _draw(self) -> None:
        summary = self.summary
        self._set(self.command_label, self._command())
        state = run_state(summary, bool(getattr(self.run, "stop_requested", False)))
        progress = progress_text(summary)
        self._set(self.state_label, f"{state} · {progress}" if progress else state)
        self._show_verdict()
        self._show_banner()
        if summary.finished is not None and not summary.stages:
            self.stages.set_empty_text(NO_STAGES_TEXT)
        if summary.stages is not self._stages_shown:  # a new sample: repaint the boxes
            self._stages_shown = summary.stages
            self.stages.show_stages(summary.stages)
            self._set(self.stage_note, f"<b>Stage figures:</b> {summary.stage_note}"
                      if summary.stage_note else "")
            self.stage_note.setVisible(bool(summary.stage_note))
        self.plots.refresh()
        self._show_traceback()

    def _command(self) -> str:
        """What the script said it is (ScriptStarted), else what the run was started with (a
        `pipeviz view` Listener has neither until a script names itself)."""
        if self.summary.script:
            return command_text(self.summary.script, self.summary.argv)
        script = getattr(self.run, "script", None)
        return command_text(str(script) if script else None, getattr(self.run, "args", ()))

    @staticmethod
    def _set(label: QLabel, text: str) -> None:
        """setText lays the label out anew: only when the words changed."""
        if label.text() != text:
            label.setText(text)

    def _show_verdict(self) -> None:
        summary = self.summary
        self._set(self.verdict_label, verdict_text(summary))
        self._set(self.share_label, share_text(summary))
        colours = VERDICT_COLORS.get(summary.verdict) if summary.steps else None
        style = f"color: {theme.semantic(*colours).name()}" if colours else ""
        if self.verdict_label.styleSheet() != style:
            self.verdict_label.setStyleSheet(style)

    def _show_banner(self) -> None:
        """One banner: a stall (cleared by the next step), else the errors pipeviz reported,
        else that the script never trained."""
        summary = self.summary
        kind, text = "", ""
        if summary.stalled is not None:
            kind, text = "stall", stall_text(summary)
        elif summary.errors:
            kind, text = "error", "; ".join(dict.fromkeys(summary.errors))
        elif summary.finished is not None and not summary.steps:
            kind, text = "info", NEVER_TRAINED + (
                " It raised before training: see its traceback below."
                if summary.finished.traceback else "")
        self._set(self.banner, text)
        self.banner.setVisible(bool(text))
        self._banner_kind = kind
        self._style_banner()

    def _style_banner(self) -> None:
        colours = BANNER_COLORS.get(self._banner_kind)
        style = ""
        if colours:
            accent = theme.semantic(*colours)
            fill = theme.mix(theme.background(), accent, 0.18)
            style = (f"QLabel#runBanner {{ background: {fill.name()}; color: {theme.foreground().name()};"
                     f" border: 2px solid {accent.name()}; border-radius: 4px; }}")
        if self.banner.styleSheet() != style:
            self.banner.setStyleSheet(style)

    def _show_traceback(self) -> None:
        text = self.summary.finished.traceback if self.summary.finished is not None else ""
        if text and self.traceback.toPlainText() != text:
            self.traceback.setPlainText(text)
            if self.traceback_box.isHidden():
                self.traceback_box.show()
                self._size_traceback(text)

    def _size_traceback(self, text: str) -> None:
        """As tall as the traceback needs, up to 35% of the space below the stages: the
        plots stay readable, a long traceback scrolls."""
        total = sum(self.lower.sizes())
        line = self.traceback.fontMetrics().lineSpacing()
        wanted = (text.count("\n") + 7) * line
        pane = min(wanted, int(total * 0.35))
        self.lower.setSizes([total - pane, pane])

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        """A new system palette: the coloured words and the banner follow it."""
        super().changeEvent(event)
        if event.type() in theme.PALETTE_EVENTS and hasattr(self, "plots"):
            self._dirty = True
            self.verdict_label.setStyleSheet("")
            self._redraw()

    # ----- shutdown ------------------------------------------------------------------------------
    def closeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        """Ask the child to stop (never waits: ChildRun signals it from its own thread)."""
        self.run.request_stop()
        self.bridge.stop()
        super().closeEvent(event)


# ----- the app around it --------------------------------------------------------------------
def exit_status(code: int | None) -> int:
    """The child's exit code as this process's: a signal's death (-n) reads 128 + n, as a
    shell says it; still running (None) reads 1."""
    if code is None:
        return 1
    return 128 - code if code < 0 else code


def run_app_for_child(args) -> int:
    """`pipeviz run script.py ...`: start the script in a child, show its window, and return
    the child's exit code once the window closed and the child ended (at most STOP_WITHIN_S
    after the close).

    `args`: the `run` sub-command's namespace: `script`, `script_args`, and optionally
    `screenshot` (save a PNG of the window when the script ends, or `screenshot_after_s`
    after its first step, then close: docs and checks). Ctrl+C and SIGTERM close the window
    as its close button does. A script that cannot run raises runner.ScriptError before any
    window opens (the caller prints it and exits 2)."""
    from PySide6.QtWidgets import QApplication

    from pipeviz.core.watch.runner import STOP_WITHIN_S, ChildRun

    from .app import _close_on_signals, set_identity

    channel = EventChannel(lossy_capacity=1 << 16)  # as --report: a slow frame drops no step
    run = ChildRun(args.script, list(args.script_args), channel)  # checks the script first
    app = QApplication.instance() or QApplication(sys.argv[:1])
    set_identity(app)
    window = RunWindow(run, channel, previous=history.load(str(run.script)))
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    run.start()
    window.show()
    _close_on_signals(window)
    screenshot = getattr(args, "screenshot", None)
    shot: dict = {}
    if screenshot:
        shot = _screenshot_when_ready(window, Path(screenshot),
                                      getattr(args, "screenshot_after_s", 20.0))
    try:
        app.exec()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        code = run.wait(STOP_WITHIN_S)  # the window asked it to stop when it closed
        if run.running:
            code = run.stop()
    window.summary.add_all(channel.drain())  # what came after the last frame: the record
    # for the next comparison is the whole run (its last steps, its end)
    history.save(window.summary, advise(window.summary))  # the next run compares with it
    if shot.get("stopped_it"):  # pipeviz ended the script after the screenshot, as asked
        return 0 if shot.get("saved") else 2
    return exit_status(code)


def _screenshot_when_ready(window: RunWindow, path: Path, after_s: float) -> dict:
    """Save `path` once the script ended, or `after_s` after its first step; then close.
    Returns a dict filled in then: "saved" (bool) and "stopped_it" (the script was still
    running: closing the window ends it, and the run's exit code is the screenshot's)."""
    from .app import _save_image

    started: list[float] = []
    outcome: dict = {}

    def check() -> None:
        summary = window.summary
        if summary.steps and not started:
            started.append(time.monotonic())
        if summary.finished is not None or (started and time.monotonic() - started[0] >= after_s):
            timer.stop()
            window._dirty = True
            window._redraw()
            outcome["saved"] = _save_image(window.grab(), path)
            outcome["stopped_it"] = summary.finished is None
            if outcome["saved"]:
                log.warning("saved screenshot %s", path)
            window.close()

    timer = QTimer(window)
    timer.timeout.connect(check)
    timer.start(250)
    return outcome


def run_app_for_view() -> int:
    """`pipeviz view`: a window that waits for a script to connect (`pipeviz.watch` in a
    notebook or a plain `python train.py` starts it). Prints "address token" on stdout once
    it listens, the one line the script reads; closing the window stops the watching, not
    the script's training."""
    from PySide6.QtWidgets import QApplication

    from pipeviz.core.watch.runner import Listener

    from .app import _close_on_signals, set_identity

    channel = EventChannel(lossy_capacity=1 << 16)
    listener = Listener(channel)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    set_identity(app)
    window = RunWindow(listener, channel)
    print(listener.start(), flush=True)
    window.show()
    _close_on_signals(window)
    app.exec()
    listener.stop()
    return 0
