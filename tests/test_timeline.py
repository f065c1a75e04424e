from pipeviz.core.events import StepEvent
from pipeviz.core.timeline import Timeline, stage_at


def batch(step, loaded, normalized, enqueued, requested, taken, trained, augmented=None):
    return StepEvent(step=step, epoch=0, batch_size=32, loss=1, accuracy=0.5,
                     input_wait_s=taken - requested, compute_s=trained - taken, host_s=0,
                     wall_s=trained - requested, t_loaded=loaded, t_normalized=normalized,
                     t_enqueued=enqueued, t_requested=requested, t_taken=taken, t_trained=trained,
                     t_augmented=normalized if augmented is None else augmented)


def test_augment_stage_between_normalize_and_buffer():
    e = batch(1, loaded=1.0, normalized=1.1, enqueued=1.3, requested=1.5, taken=2.0, trained=2.5,
              augmented=1.28)
    assert [stage_at(e, t) for t in (1.05, 1.15, 1.29, 1.6)] == [
        "normalize", "augment", "augment", "buffer"]
    timeline = Timeline()
    timeline.add([e])
    assert abs(timeline.state_at(2.5).stats["augment"].ms_per_batch - 180.0) < 1e-6
    off = batch(2, loaded=1.0, normalized=1.1, enqueued=1.3, requested=1.5, taken=2.0, trained=2.5)
    assert stage_at(off, 1.2) == "normalize", "augment off: no time in an Augment stage"


def test_stage_of_a_batch_over_time():
    e = batch(1, loaded=1.0, normalized=1.1, enqueued=1.1, requested=1.5, taken=2.0, trained=2.5)
    assert [stage_at(e, t) for t in (0.9, 1.05, 1.6, 2.2, 2.5)] == [
        None, "normalize", "buffer", "train", None]


def test_state_counts_tokens_and_marks_a_starving_train_step():
    timeline = Timeline()
    timeline.add([batch(1, 0.0, 0.1, 0.1, 0.0, 0.1, 0.3),    # trained by 0.3
                  batch(2, 0.2, 0.25, 0.25, 0.3, 0.35, 0.6),  # in buffer 0.25-0.35
                  batch(3, 0.5, 0.9, 0.9, 0.6, 0.9, 1.1)])    # train waits 0.6-0.9
    at = timeline.state_at(0.28)
    assert at.tokens["train"] == [1] and at.tokens["buffer"] == [2] and not at.train_waiting
    at = timeline.state_at(0.7)
    assert at.tokens["normalize"] == [3] and at.train_waiting and at.count("train") == 0
    stats = timeline.state_at(1.1).stats
    assert stats["train"].batches_per_s == 3.0
    assert abs(stats["normalize"].ms_per_batch - 100.0) < 1e-6


def test_old_events_leave_the_window():
    timeline = Timeline(window_s=1.0)
    timeline.add([batch(n, n, n + 0.1, n + 0.1, n, n + 0.1, n + 0.2) for n in range(10)])
    assert [e.step for e in timeline.events] == [8, 9]


def test_since_and_last_walk_back_from_the_newest():
    timeline = Timeline(window_s=100)
    timeline.add([batch(n, n, n + 0.1, n + 0.1, n, n + 0.1, n + 0.2) for n in range(10)])
    assert [e.step for e in timeline.since(6.5)] == [7, 8, 9]
    assert [e.step for e in timeline.last(3)] == [7, 8, 9]
    assert timeline.since(20) == [] and len(timeline.last(50)) == 10
