"""Events over the socket (core/watch/wire.py): what goes in comes out, in order, and
nothing a stranger sends reaches the window."""
from __future__ import annotations

import math
import socket
import time

import pytest

from pipeviz.core.events import EventChannel, StepEvent
from pipeviz.core.watch import wire
from pipeviz.core.watch.events import (InputStalled, ScriptFinished, ScriptStarted, Stage,
                                       StagesSampled)


def step(i):
    return StepEvent(i, 0, 32, 0.5, math.nan, 0.01, 0.02, 0.001, 0.031, 0, 0, 0,
                     1.0 + i, 1.01 + i, 1.03 + i)


def test_every_kind_of_event_round_trips():
    stages = (Stage(1, "source: range", "Range", elements=9),
              Stage(2, "map", "ParallelMapV2", "decode", parallelism=2, autotuned=True,
                    time_ms=1.5, slowest=True))
    for event in (step(3), StagesSampled(2.0, stages, "note"), ScriptStarted("a.py", ("1",), 7, 1.0),
                  InputStalled(3.0, 12.5, "worker localhost:5 does not answer"),
                  ScriptFinished(1, "Traceback ...", 4)):
        back = wire.decode(wire.encode(event))
        assert type(back) is type(event)
        if isinstance(event, StepEvent):
            assert math.isnan(back.accuracy) and back.loss == event.loss and back.step == 3
        else:
            assert back == event


@pytest.mark.parametrize("line", [b"", b"garbage", b'["Nope", []]', b'["StepEvent", [1, 2]]',
                                  b'{"type": "StepEvent"}', b'["StagesSampled", [1.0, [[1]], ""]]'])
def test_bad_lines_are_refused(line):
    with pytest.raises(ValueError):
        wire.decode(line)


def test_a_sender_s_events_arrive_in_order_and_strangers_are_ignored():
    channel = EventChannel(lossy_capacity=10000)
    receiver = wire.Receiver(channel.put, "secret")
    host, port = receiver.address.split(":")
    with socket.create_connection((host, int(port))) as stranger:  # wrong token first
        stranger.sendall(b"guess\n" + wire.encode(step(99)).encode() + b"\n")
    sender = wire.Sender(receiver.address, "secret")
    for i in range(500):
        sender.send(step(i))
    sender.send(ScriptFinished(0, "", 500))
    sender.close()
    receiver.join(5)
    events = channel.drain()
    assert [e.step for e in events[:-1]] == list(range(500))
    assert isinstance(events[-1], ScriptFinished)
    assert receiver.bad_lines == 0


def test_send_never_waits_for_a_slow_reader():
    server = socket.create_server(("127.0.0.1", 0))  # accepts, never reads
    address = "%s:%d" % server.getsockname()[:2]
    sender = wire.Sender(address, "t", capacity=100)
    started = time.perf_counter()
    for i in range(100000):
        sender.send(step(i))
    assert time.perf_counter() - started < 2.0
    assert sender.dropped > 0  # the oldest steps went, counted
    server.close()
