"""tf.data service: how many workers serve a pipeline, and which one a stalled input waits for.

When a tf.data service worker dies, the consumer waits for it forever and TensorFlow says
nothing (measured here: a job in parallel-epochs mode with one of two workers killed delivers
the live worker's elements, then blocks in `next()` for good). So pipeviz watches for steps
that stop coming (`StallWatch`) and then asks where: for a "data service" stage it asks the
dispatcher which workers it knows and tries each one's port; for any other pipeline it names
the stage that holds nothing ready.

The dispatcher is asked by its gRPC method `GetWorkers`
(tensorflow/core/data/service/dispatcher.proto, `DispatcherService.GetWorkers`, returning
`repeated WorkerInfo{string address = 1}`). TensorFlow ships no Python binding for it that
works outside the dispatcher's own process (`DispatchServer.num_workers` only there), so the
empty request is sent with grpcio (a TensorFlow dependency) and the two-level reply decoded
by hand; any failure gives None ("not known"), never a guess. The same way, `GetDatasetDef`
gives the graph of the pipeline the workers run, so its stages can be listed
(`served_stages`).
"""
from __future__ import annotations

import socket
import statistics
import threading
import time
from typing import Callable, Iterable

from .events import InputStalled, Stage
from .stages import Written, describe

GET_WORKERS = "/tensorflow.data.DispatcherService/GetWorkers"
GET_DATASET_DEF = "/tensorflow.data.DispatcherService/GetDatasetDef"
MIN_STALL_S = 10.0
STALL_STEPS = 20
"""A stall is `max(MIN_STALL_S, STALL_STEPS x the median step)` without a step ending:
long enough that an epoch's end, a validation pass or a checkpoint is not taken for one."""
PROBE_TIMEOUT_S = 0.5


def dispatcher_workers(address: str, timeout_s: float = 1.0) -> list[str] | None:
    """The addresses of the workers registered with the dispatcher at `address`
    ("localhost:5050" or "grpc://localhost:5050"); None if it cannot be asked."""
    reply = _call(address, GET_WORKERS, b"", timeout_s)
    if reply is None:
        return None
    try:
        return [_string_field(info, 1) for number, info in _fields(reply) if number == 1]
    except (IndexError, ValueError):
        return None


def served_stages(service: Written, timeout_s: float = 1.0) -> list[Written] | None:
    """The stages the workers run for a "data service" stage (positions from 1 on the
    workers' side), from the graph the dispatcher keeps of the registered dataset
    (`DispatcherService.GetDatasetDef`: `GetDatasetDefResponse{DatasetDef dataset_def = 1}`,
    `DatasetDef{GraphDef graph = 1}`); None if the dispatcher cannot tell. Their live
    figures stay on the workers: the consumer's tf.data model does not have them."""
    if not service.address or not service.dataset_id:
        return None
    request = _string_message(1, service.dataset_id.encode())
    reply = _call(service.address, GET_DATASET_DEF, request, timeout_s)
    if reply is None:
        return None
    from tensorflow.core.framework import graph_pb2

    from .stages import graph_stages

    try:
        definition = next(v for n, v in _fields(reply) if n == 1)
        graph = graph_pb2.GraphDef()
        graph.ParseFromString(next(v for n, v in _fields(definition) if n == 1))
        return graph_stages(graph)
    except (StopIteration, IndexError, ValueError):
        return None


def _call(address: str, method: str, request: bytes, timeout_s: float) -> bytes | None:
    """One unary gRPC call with raw bytes each way; None when it fails."""
    try:
        import grpc
    except ImportError:
        return None
    try:
        with grpc.insecure_channel(address.split("://", 1)[-1]) as channel:
            call = channel.unary_unary(method, request_serializer=lambda m: m,
                                       response_deserializer=lambda b: b)
            return call(request, timeout=timeout_s)
    except grpc.RpcError:
        return None


def _string_message(number: int, value: bytes) -> bytes:
    """A protobuf message holding one length-delimited field."""
    return _encode_varint(number << 3 | 2) + _encode_varint(len(value)) + value


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _fields(data: bytes) -> Iterable[tuple[int, bytes]]:
    """The length-delimited fields of a protobuf message, as (number, bytes); other wire
    types are skipped."""
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 2:
            length, i = _varint(data, i)
            yield number, data[i:i + length]
            i += length
        elif wire == 0:
            _, i = _varint(data, i)
        elif wire in (1, 5):
            i += 8 if wire == 1 else 4
        else:
            raise ValueError(f"protobuf wire type {wire}")


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[i]
        value |= (byte & 0x7F) << shift
        i += 1
        if not byte & 0x80:
            return value, i
        shift += 7


def _string_field(message: bytes, number: int) -> str:
    return next((v.decode() for n, v in _fields(message) if n == number), "")


def answers(address: str, timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    """Whether something accepts a TCP connection at "host:port" (a killed worker's port
    refuses at once; a hung host times out)."""
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    try:
        with socket.create_connection((host or "localhost", int(port)), timeout=timeout_s):
            return True
    except (OSError, ValueError):
        return False


class ServiceWorkers:
    """Worker counts by dispatcher address for `stages.read_stages(workers=...)`, asked at
    most every `refresh_s` so that sampling the stages twice a second stays cheap."""

    def __init__(self, refresh_s: float = 5.0, clock: Callable[[], float] = time.monotonic):
        self.refresh_s = refresh_s
        self._clock = clock
        self._known: dict[str, tuple[float, int | None]] = {}

    def count(self, address: str) -> int | None:
        now = self._clock()
        asked = self._known.get(address)
        if asked is None or now - asked[0] >= self.refresh_s:
            workers = dispatcher_workers(address)
            self._known[address] = (now, None if workers is None else len(workers))
        return self._known[address][1]


def service_detail(written: Written) -> str:
    """Where a data service input is stuck: the workers that do not answer, or the
    dispatcher, or (all answering) that the service is slow. (How long it has waited is
    InputStalled.seconds, which the displays say.)"""
    dispatcher = written.address
    workers = dispatcher_workers(dispatcher)
    if workers is None:
        return (f"the tf.data service dispatcher {dispatcher} does not answer; the consumer waits for it (TensorFlow gives no error). "
                "Restart the dispatcher, or end the job.")
    dead = [w for w in workers if not answers(w)]
    if dead:
        which = ", ".join(dead)
        worker = "worker" if len(dead) == 1 else "workers"
        return (f"tf.data service {worker} {which} does not answer; the consumer waits for it forever (TensorFlow gives no error). "
                f"Restart it on the same address, or end the job ({len(workers) - len(dead)} "
                f"of {len(workers)} workers answer).")
    return (f"the tf.data service at {dispatcher} and its {len(workers)} workers answer, but no element comes; the workers' pipeline may "
            "be blocked (a generator or py_function waiting) or far slower than the step.")


def pipeline_detail(stages: Iterable[Stage]) -> str:
    """Where a local pipeline is stuck: the slowest stage if it holds nothing ready, else
    the stage nearest the source that holds nothing ready."""
    stages = list(stages)
    empty = [s for s in stages if s.buffered == 0 and s.kind != "prefetch"]
    slowest = next((s for s in stages if s.slowest), None)
    stuck = slowest if slowest is not None and slowest in empty else (
        empty[0] if empty else slowest)
    if stuck is None:
        return ("tf.data's model says nothing about where (a generator or py_function may "
                "be blocked)")
    held = "holds nothing ready" if stuck.buffered == 0 else "is the slowest stage"
    return f"{describe(stuck)} {held}"


class StallWatch:
    """Says, once per stall, that steps stopped coming and where the input is stuck.

    `last_step_end()` gives the time (time.time()) the last step ended, or the fit began;
    None while there is nothing to watch. `step_s()` gives the median step in seconds (or
    None), for the default threshold; `stages()` the latest live stages, for a pipeline
    without data service. Drive `check()` from a thread of your own, or `start()` one.
    """

    def __init__(self, last_step_end: Callable[[], float | None], written: list[Written],
                 on_stall: Callable[[InputStalled], None], stall_s: float | None = None,
                 step_s: Callable[[], float | None] | None = None,
                 stages: Callable[[], Iterable[Stage]] | None = None,
                 clock: Callable[[], float] = time.time):
        self.last_step_end, self.written, self.on_stall = last_step_end, written, on_stall
        self.stall_s, self.step_s, self.stages, self.clock = stall_s, step_s, stages, clock
        self._reported_for: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def threshold(self) -> float:
        if self.stall_s is not None:
            return self.stall_s
        median = self.step_s() if self.step_s is not None else None
        return max(MIN_STALL_S, STALL_STEPS * median) if median else MIN_STALL_S

    def check(self) -> InputStalled | None:
        """The stall, if steps stopped for the threshold and it was not reported yet."""
        last = self.last_step_end()
        if last is None or last == self._reported_for:
            return None
        now = self.clock()
        waited = now - last
        if waited < self.threshold():
            return None
        self._reported_for = last
        stalled = InputStalled(now, waited, self.detail())
        self.on_stall(stalled)
        return stalled

    def detail(self) -> str:
        service = next((w for w in self.written if w.kind == "data service" and w.address),
                       None)
        if service is not None:
            return service_detail(service)
        return pipeline_detail(self.stages() if self.stages else ())

    def start(self, period_s: float = 1.0) -> None:
        """Check every `period_s` in a daemon thread until `stop()`."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(period_s,),
                                        name="pipeviz-stall-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self, period_s: float) -> None:
        while not self._stop.wait(period_s):
            self.check()


def median_step_s(step_ends: Iterable[float]) -> float | None:
    """The median time between successive step ends, for `StallWatch(step_s=...)`."""
    ends = list(step_ends)
    gaps = [b - a for a, b in zip(ends, ends[1:]) if b > a]
    return statistics.median(gaps) if gaps else None
