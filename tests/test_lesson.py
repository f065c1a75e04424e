"""The notes that say when another knob hides prefetch's effect."""
from pipeviz.core.config import AUTOTUNE, PipelineConfig
from pipeviz.core.lesson import prefetch_notes


def test_launch_defaults_show_the_seed_lesson_with_nothing_hiding_prefetch():
    config = PipelineConfig()
    assert config.prefetch != 0 and config.parallel_reads == 1 and config.parallel_map == 1
    assert not config.cache and config.parallel_augment == 1
    # latency 0 until the first Start matches it to the step (gui: latency auto)
    assert [n for n in prefetch_notes(config.replace(storage_latency_ms=6.0))] == []


def test_each_hiding_knob_is_named_with_what_to_do():
    base = PipelineConfig(storage_latency_ms=6.0)
    cases = {"parallel_reads": (base.replace(parallel_reads=4), "4 reads in flight"),
             "parallel_map": (base.replace(parallel_map=AUTOTUNE), "Parallel normalize"),
             "parallel_augment": (base.replace(parallel_augment=AUTOTUNE), "Augment in parallel"),
             "cache": (base.replace(cache=True), "from memory"),
             "latency": (base.replace(storage_latency_ms=0.0), "\"= step\"")}
    for name, (config, words) in cases.items():
        notes = prefetch_notes(config)
        assert len(notes) == 1 and words in notes[0], (name, notes)
        assert "untick" in notes[0] or "press" in notes[0], (name, notes)
    # an inline Augment, or none, hides nothing
    assert prefetch_notes(base.replace(augment=False, parallel_augment=AUTOTUNE)) == ()
    everything = base.replace(parallel_reads=4, parallel_map=AUTOTUNE, parallel_augment=AUTOTUNE,
                              cache=True, storage_latency_ms=0.0)
    assert len(prefetch_notes(everything)) == 5
    assert len(prefetch_notes(everything, latency_pending=True)) == 4, "matched at the next Start"


def test_guide_moves_on_real_events_and_quotes_the_measured_wait():
    from pipeviz.core.lesson import Guide, GuideStep
    guide = Guide(latency_auto=True)
    assert guide.step == GuideStep.START and "Start" in guide.text
    guide.prefetch_applied(False)  # before Start: nothing moves
    guide.prefetch_applied(True)
    assert guide.step == GuideStep.START
    guide.running(True)
    assert guide.step == GuideStep.MATCH
    guide.latency_matched()
    guide.wait = 0.03
    assert guide.step == GuideStep.UNTICK and "3%" in guide.text
    guide.prefetch_applied(False)
    guide.wait = 0.48
    assert guide.step == GuideStep.TICK and "48%" in guide.text and "3%" in guide.text
    guide.prefetch_applied(True)
    assert guide.done and "48%" in guide.text and "3%" in guide.text


def test_guide_without_auto_latency_skips_the_match_and_restarts_when_the_run_ends():
    from pipeviz.core.lesson import Guide, GuideStep
    guide = Guide(latency_auto=False)
    guide.running(True)
    assert guide.step == GuideStep.UNTICK
    guide.running(False)
    assert guide.step == GuideStep.START
    guide.running(True)
    guide.prefetch_applied(False)  # it was on: the off change counts
    guide.running(False)
    guide.running(True)
    assert guide.step == GuideStep.UNTICK and "tick it, then untick it" in guide.text
    guide.prefetch_applied(True)
    assert guide.step == GuideStep.UNTICK, "ticking it back is not the lesson's order"
    guide.prefetch_applied(False)
    assert guide.step == GuideStep.TICK
