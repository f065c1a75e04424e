"""What hides prefetch's effect, in words: the notes the window shows beside the idle plot.

The lesson is that prefetching loads the next batch while the model trains, so the model
never waits. Other knobs also load ahead or leave nothing to load, and then unticking
Prefetch changes little; a student must not conclude from that that prefetching does not
matter. Each note names the knob, why it hides prefetch, and what to do to see it.
Plain Python: no TensorFlow, no Qt.
"""
from __future__ import annotations

from .balance import MATCH_SHARE
from .config import PipelineConfig
from .knobs import CONTROL_TEXT


def prefetch_notes(config: PipelineConfig, latency_pending: bool = False) -> tuple[str, ...]:
    """One sentence per knob of `config` that hides or changes what prefetch does.
    `latency_pending`: the latency is 0 only until the next Start matches it to the step."""
    notes = []
    if config.parallel_reads > 1:
        notes.append(f"{CONTROL_TEXT['parallel_reads']} keeps {config.parallel_reads} reads in "
                     "flight, so it loads ahead by itself and hides prefetch's effect: untick it "
                     "to see prefetch alone.")
    if config.parallel_map != 1:
        notes.append(f"{CONTROL_TEXT['parallel_map']} runs calls ahead of the step into a buffer "
                     "of its own, which hides part of prefetch's effect: untick it to see "
                     "prefetch alone.")
    if config.augment and config.parallel_augment != 1:
        notes.append(f"{CONTROL_TEXT['augment']} {CONTROL_TEXT['parallel_augment']} works ahead of "
                     "the step into a buffer of its own, which hides part of prefetch's effect: "
                     "untick it to see prefetch alone.")
    if config.cache:
        notes.append(f"{CONTROL_TEXT['cache']} serves batches from memory after the first pass, so "
                     "no storage latency is left to hide: untick it to see prefetch's effect.")
    if config.storage_latency_ms == 0 and not latency_pending:
        notes.append(f"With the simulated {CONTROL_TEXT['storage_latency_ms'].lower()} at 0, a batch "
                     "takes only the pipeline's own work to load, so prefetch has little to hide: press "
                     f"\"{CONTROL_TEXT['balance']}\" to make loading as slow as a train step.")
    return tuple(notes)


class GuideStep:
    """The first-run guide's steps, in order (plain strings: the window saves none of them)."""

    START = "start"
    MATCH = "match"
    UNTICK = "untick"
    TICK = "tick"
    DONE = "done"


class Guide:
    """The first-run guide: Start, untick Prefetch, watch the orange input wait, tick it again.

    It moves on real events only: the worker's state, a knob change the trainer applied, the
    storage latency matched to the step, and the live input-wait share of the idle plot's
    window (`wait`), which it quotes. `text` is what the strip shows now.
    """

    def __init__(self, latency_auto: bool = True):
        self.latency_auto = latency_auto
        self.step = GuideStep.START
        self.prefetch_on = True
        self.wait = 0.0
        self.wait_with = self.wait_without = None

    def running(self, running: bool) -> None:
        """The worker started (True) or stopped or finished (False)."""
        if running and self.step == GuideStep.START:
            self.step = GuideStep.MATCH if self.latency_auto else GuideStep.UNTICK
        elif not running and self.step in (GuideStep.MATCH, GuideStep.UNTICK, GuideStep.TICK):
            self.step = GuideStep.START

    def latency_matched(self) -> None:
        if self.step == GuideStep.MATCH:
            self.step = GuideStep.UNTICK

    def prefetch_applied(self, on: bool) -> None:
        """The trainer applied a prefetch change (on: a buffer of any size)."""
        if self.step == GuideStep.UNTICK and self.prefetch_on and not on:
            self.wait_with, self.step = self.wait, GuideStep.TICK
        elif self.step == GuideStep.TICK and on:
            self.wait_without, self.step = self.wait, GuideStep.DONE
        self.prefetch_on = on

    @property
    def done(self) -> bool:
        return self.step == GuideStep.DONE

    @property
    def text(self) -> str:
        now = f"Input wait now: <b>{self.wait:.0%}</b> of each step."
        if self.step == GuideStep.START:
            return ("<b>1/4</b> Press <b>Start</b>: the CNN trains on MNIST while the diagram "
                    "shows each batch move through load, normalize, augment and train.")
        if self.step == GuideStep.MATCH:
            return ("<b>2/4</b> Measuring the train step… then the simulated storage latency is "
                    f"set so that loading a batch takes {MATCH_SHARE:.0%} of a train step, as on a "
                    f"slow disk ({CONTROL_TEXT['latency_auto']}).")
        if self.step == GuideStep.UNTICK:
            if not self.prefetch_on:
                return f"<b>3/4</b> {CONTROL_TEXT['prefetch']} is off: tick it, then untick it. {now}"
            return (f"<b>3/4</b> Untick <b>{CONTROL_TEXT['prefetch']}</b> and watch the orange "
                    f"<i>input wait</i> in Accelerator idle: the model will wait for every batch. {now}")
        if self.step == GuideStep.TICK:
            return (f"<b>4/4</b> Tick <b>{CONTROL_TEXT['prefetch']}</b> again: the next batch loads "
                    f"while the model trains. {now} (with prefetch: {self.wait_with:.0%})")
        return (f"Prefetching hid the loading: input wait <b>{self.wait_without:.0%}</b> without "
                f"it, <b>{self.wait_with:.0%}</b> with it. Next, try {CONTROL_TEXT['parallel_reads']} "
                f"or {CONTROL_TEXT['cache']}: the note by the idle plot says how each changes "
                "prefetch's effect. The Learn tab's quiz asks why.")
