"""The quiz, its evidence, and the epoch table's observations."""
from pipeviz.core.config import PipelineConfig
from pipeviz.core.events import ConfigApplied, EpochSummary
from pipeviz.core.learn import QUESTIONS, KnobEvidence, evidence, observe

from test_advisor import step


def test_three_questions_mark_right_and_wrong():
    keys = [q.key for q in QUESTIONS]
    assert keys == ["prefetch", "parallel_reads", "normalize"]
    prefetch = QUESTIONS[0]
    assert "never waits" in prefetch.choices[prefetch.correct]
    for q in QUESTIONS:
        assert q.is_right(q.correct)
        assert not any(q.is_right(i) for i in range(len(q.choices)) if i != q.correct)


def test_evidence_measures_the_idle_drop_when_prefetch_went_on():
    knobs = KnobEvidence(window=50, settle=4)
    prefetch = QUESTIONS[0]
    assert evidence(prefetch, knobs).startswith("No evidence yet")
    knobs.add_steps([step(n, wait=0.006, compute=0.004) for n in range(1, 101)])
    knobs.add_change(ConfigApplied(101, 0.0, PipelineConfig(prefetch=-1), ("prefetch",)))
    knobs.add_steps([step(n, wait=0.0, compute=0.004) for n in range(101, 201)])
    text = evidence(prefetch, knobs)
    assert "step 101 prefetch became auto" in text
    assert "idle went from 60% to 0%" in text and "from 3,200 to 8,000 images/s" in text
    assert evidence(QUESTIONS[1], knobs).startswith("No evidence yet")
    assert "0.59" in evidence(QUESTIONS[2], knobs, normalized_150=150 / 255, drawn_max=1.0)


def summary(epoch, loss, val_acc, idle, train_acc=0.9, wait=0.0):
    return EpochSummary(epoch=epoch, steps=10, train_loss=loss, train_accuracy=train_acc,
                        val_loss=loss, val_accuracy=val_acc, seconds=1.0, idle_fraction=idle,
                        images_per_s=100.0, input_wait_fraction=wait)


def test_observations_come_from_the_measurements():
    first = summary(0, 0.5, 0.90, 0.55, wait=0.5)
    assert observe(first, None) == "first epoch, val acc 90.0%; idle 55%, highly input-bound"
    second = summary(1, 0.3, 0.95, 0.05, wait=0.01)
    assert (observe(second, first, ["prefetch"])
            == "loss falling (40%); val acc +5.0 pts; idle 5%, not input-bound; changed prefetch")
    third = summary(2, 0.299, 0.93, 0.2, train_acc=0.99, wait=0.08)
    text = observe(third, second)
    assert text.startswith("loss flat; val acc -2.0 pts while train acc rose: overfitting?")
    assert text.endswith("idle 20%, moderately input-bound")
