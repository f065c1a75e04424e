"""tf.data service (core/watch/service.py), for real: a dispatcher in the test process, two
workers in subprocesses; the stage, its worker count, and a killed worker named by the stall
watch. Plus the stall watch's threshold and its words for a local pipeline. (The example
script's own worker dying under `pipeviz run`, end to end: benchmarks/data_service_stall.py.)"""
from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from conftest import wait_until

tf = pytest.importorskip("tensorflow")

from pipeviz.core.watch.events import Stage  # noqa: E402
from pipeviz.core.watch.service import (MIN_STALL_S, ServiceWorkers, StallWatch,  # noqa: E402
                                        answers, dispatcher_workers, median_step_s,
                                        pipeline_detail, served_stages)
from pipeviz.core.watch.stages import Written, read_stages, written_stages  # noqa: E402

WORKER = """
import sys
import tensorflow as tf
config = tf.data.experimental.service.WorkerConfig(
    dispatcher_address=sys.argv[1], worker_address="localhost:" + sys.argv[2],
    port=int(sys.argv[2]))
worker = tf.data.experimental.service.WorkerServer(config)
print("ready", flush=True)
worker.join()
"""


def _free_ports(count: int) -> list[int]:
    """Distinct free ports, held open together while chosen."""
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.fixture(scope="module")
def service():
    """A dispatcher and one worker here, and one worker in a subprocess (the one the stall
    test kills: a worker of its own process dies as a crashed machine's would). One import
    of TensorFlow in a subprocess, not two: the suite shares a few cores."""
    dispatcher = tf.data.experimental.service.DispatchServer(
        tf.data.experimental.service.DispatcherConfig(port=0))
    address = dispatcher.target.split("://")[1]
    ports = _free_ports(2)
    process = subprocess.Popen([sys.executable, "-c", WORKER, address, str(ports[0])],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        here = tf.data.experimental.service.WorkerServer(
            tf.data.experimental.service.WorkerConfig(
                dispatcher_address=address, worker_address=f"localhost:{ports[1]}",
                port=ports[1]))
        assert process.stdout.readline().strip() == b"ready"
        wait_until(lambda: len(dispatcher_workers(address) or ()) >= 2, 10, interval=0.1)
        yield dispatcher, address, ports, process, here
    finally:
        process.kill()
        process.wait()


def _distributed(dispatcher, n=4000):
    return (tf.data.Dataset.range(n).map(lambda x: x + 1, name="inc").batch(8)
            .apply(tf.data.experimental.service.distribute("parallel_epochs",
                                                           dispatcher.target))
            .prefetch(2))


def test_the_data_service_stage_its_dispatcher_and_workers(service):
    dispatcher, address, ports, _, _ = service
    dataset = _distributed(dispatcher)
    written = written_stages(dataset)
    assert [w.kind for w in written] == ["data service", "prefetch"]
    assert written[0].address == address and written[0].processing_mode == "OFF"
    assert sorted(dispatcher_workers(address)) == sorted(f"localhost:{p}" for p in ports)
    served = served_stages(written[0])
    assert [(w.kind, w.name) for w in served] == [("source: range", ""), ("map", "inc"),
                                                  ("batch", "")]
    iterator = iter(dataset)
    for _ in range(5):
        next(iterator)
    stages = read_stages(iterator, written, workers=ServiceWorkers().count).stages
    assert stages[0].op == "DataService" and stages[0].workers == 2
    assert stages[0].buffer_size is not None and stages[0].elements >= 5


def test_a_dispatcher_that_is_not_there_gives_none_not_a_guess():
    port, = _free_ports(1)
    assert dispatcher_workers(f"localhost:{port}", timeout_s=0.5) is None
    lost = Written(1, "data service", "DataServiceDatasetV4", address=f"localhost:{port}",
                   dataset_id="1000")
    assert served_stages(lost, timeout_s=0.5) is None
    assert not answers(f"localhost:{port}")


def test_a_killed_worker_is_named_when_the_input_stalls(service):
    """Kill one worker mid-job: the consumer takes the other worker's elements, then waits
    forever in next(); the watch says so, naming the dead worker's address."""
    dispatcher, _, ports, process, _ = service
    dataset = _distributed(dispatcher, n=800)
    written = written_stages(dataset)
    last = {"t": time.time()}
    iterator = iter(dataset)
    next(iterator)
    process.send_signal(signal.SIGKILL)
    process.wait()

    def consume():
        for _ in iterator:  # blocks for good once the live worker is done
            last["t"] = time.time()

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    stalls = []
    watch = StallWatch(lambda: last["t"], written, stalls.append, stall_s=1.5)
    watch.start(period_s=0.25)
    try:
        wait_until(lambda: stalls, 15, interval=0.1)
    finally:
        watch.stop()
    assert len(stalls) == 1, "the input never stalled, or was reported twice"
    assert consumer.is_alive(), "the data ended: no stall to find"  # it waits in next()
    detail = stalls[0].detail
    assert f"localhost:{ports[0]} does not answer" in detail
    assert f"localhost:{ports[1]}" not in detail
    assert "1 of 2 workers answer" in detail
    assert stalls[0].seconds >= 1.5


def test_the_stall_threshold_follows_the_median_step():
    watch = StallWatch(lambda: 0.0, [], lambda s: None, step_s=lambda: 2.0)
    assert watch.threshold() == 40.0
    watch.step_s = lambda: 0.01
    assert watch.threshold() == MIN_STALL_S
    assert median_step_s([0.0, 0.1, 0.3, 0.4]) == pytest.approx(0.1)
    assert median_step_s([5.0]) is None


def test_a_stall_is_reported_once_and_again_after_steps_resume():
    now = {"t": 100.0}
    last = {"t": 90.0}
    seen = []
    watch = StallWatch(lambda: last["t"], [], seen.append, stall_s=5,
                       stages=lambda: (), clock=lambda: now["t"])
    assert watch.check() is not None and watch.check() is None
    last["t"] = 99.0
    assert watch.check() is None  # 1 s since the last step
    now["t"] = 110.0
    assert watch.check() is not None and len(seen) == 2


def test_a_local_pipeline_s_stall_names_the_empty_slowest_stage():
    stages = (Stage(1, "source: range", "Range"),
              Stage(2, "map", "ParallelMapV2", "decode", parallelism=2, buffered=0,
                    ms_per_batch=40.0, elements=50, slowest=True),
              Stage(3, "batch", "BatchV2"),
              Stage(4, "prefetch", "Prefetch", buffer_size=2, buffered=0))
    detail = pipeline_detail(stages)
    assert detail == "stage 2: map 'decode' holds nothing ready"
