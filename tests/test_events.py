import threading

from pipeviz.core.events import EpochSummary, EventChannel, StateChanged, StepEvent
from pipeviz.core.state import WorkerState


def step(n, wall=0.004, compute=0.003, wait=0.0005):
    host = wall - compute - wait
    return StepEvent(step=n, epoch=0, batch_size=32, loss=1.0, accuracy=0.5,
                     input_wait_s=wait, compute_s=compute, host_s=host, wall_s=wall,
                     t_loaded=0, t_normalized=0, t_enqueued=0, t_requested=0, t_taken=0,
                     t_trained=0)


def test_step_derived_figures():
    """One step's figures come from the one set of statistics (core/stepstats.py)."""
    from pipeviz.core.stepstats import StepStats
    stats = StepStats.of([step(1, wall=0.004, compute=0.003)])
    assert abs(stats.idle_fraction - 0.25) < 1e-9
    assert abs(stats.images_per_s - 8000) < 1e-6


def test_lossy_lane_is_bounded_and_counts_drops():
    channel = EventChannel(lossy_capacity=100)
    for n in range(1000):
        channel.put(step(n))
    assert len(channel) == 100 and channel.dropped == 900
    assert [e.step for e in channel.drain()] == list(range(900, 1000))


def test_reliable_events_survive_a_flood_and_keep_order():
    channel = EventChannel(lossy_capacity=10)
    channel.put(StateChanged(WorkerState.RUNNING))
    for n in range(500):
        channel.put(step(n))
        if n == 250:
            channel.put(EpochSummary(0, 251, 1, 0.5, 1, 0.5, 2.0, 0.3, 1000))
    events = channel.drain()
    assert isinstance(events[0], StateChanged)
    assert isinstance(events[1], EpochSummary)
    assert [e.step for e in events[2:]] == list(range(490, 500))


def test_drain_limit_keeps_the_rest():
    channel = EventChannel()
    for n in range(10):
        channel.put(step(n))
    assert [e.step for e in channel.drain(4)] == [0, 1, 2, 3]
    assert [e.step for e in channel.drain()] == list(range(4, 10))


def test_many_producers_never_block():
    channel = EventChannel(lossy_capacity=50)
    threads = [threading.Thread(target=lambda: [channel.put(step(n)) for n in range(2000)])
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert len(channel) == 50 and channel.dropped == 8000 - 50


