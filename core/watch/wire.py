"""Events over a local socket, one JSON object per line, sent in batches.

The child's `Sender` never makes training wait: `send()` appends to a bounded deque (steps
past its size are dropped and counted, as the in-process `EventChannel` does) and a thread
writes what has gathered every `flush_s`. The parent's `Receiver` accepts the one child that
shows the token it was given, decodes each line back into the same dataclass, and puts it
on an `EventChannel`, the channel the window's bridge and the report read.

JSON, not pickle: the parent never runs code it receives, and a line is readable in a log.
A line is `[type, [field values in declaration order]]`: both ends are this module.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import socket
import threading
import time
from collections import deque
from typing import Any, Callable

from ..events import ErrorEvent, StepEvent
from . import events as run_events

log = logging.getLogger(__name__)

ENV_ADDRESS = "PIPEVIZ_EVENTS"
"""host:port of the parent's receiver, set in the child's environment."""
ENV_TOKEN = "PIPEVIZ_TOKEN"
"""The secret the child sends first, so no other local process can feed the window."""

EVENT_TYPES: dict[str, type] = {cls.__name__: cls for cls in (
    StepEvent, ErrorEvent, run_events.StagesSampled, run_events.ScriptStarted,
    run_events.FitStarted, run_events.StepMetrics, run_events.EpochLogs, run_events.FitEnded,
    run_events.InputStalled, run_events.ScriptFinished)}
TOKEN_WAIT_S = 5.0
LOSSY = (StepEvent, run_events.StepMetrics, run_events.StagesSampled)


_FIELDS: dict[type, tuple[str, ...]] = {
    cls: tuple(f.name for f in dataclasses.fields(cls)) for cls in EVENT_TYPES.values()}
_STAGE_FIELDS = tuple(f.name for f in dataclasses.fields(run_events.Stage))


def _values(event: Any) -> list:
    """The event's field values in declaration order (Stage tuples as lists of values)."""
    values = [getattr(event, name) for name in _FIELDS[type(event)]]
    if isinstance(event, run_events.StagesSampled):
        values[1] = [[getattr(s, n) for n in _STAGE_FIELDS] for s in event.stages]
    return values


def encode_batch(events: list) -> str:
    """Lines of `[type, [values...]]`: one json.dumps per batch, not per event (an event
    costs a few microseconds here, in a thread that shares the GIL with training). Python's
    json writes NaN as NaN, which it reads back."""
    return "\n".join(json.dumps([type(e).__name__, _values(e)], separators=(",", ":"))
                     for e in events) + "\n"


def encode(event: Any) -> str:
    return encode_batch([event])[:-1]


def decode(line: str | bytes) -> Any:
    """The dataclass a line of `encode` describes; ValueError for anything else."""
    try:
        name, values = json.loads(line)
        cls = EVENT_TYPES[name]
        fields = dict(zip(_FIELDS[cls], values, strict=True))
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"not a pipeviz event: {str(line)[:80]!r}") from exc
    try:
        if cls is run_events.StagesSampled:
            fields["stages"] = tuple(run_events.Stage(*s) for s in fields["stages"])
        if cls is run_events.ScriptStarted:
            fields["argv"] = tuple(fields["argv"])
        return cls(**fields)
    except TypeError as exc:
        raise ValueError(f"bad {cls.__name__}: {exc}") from exc


class Sender:
    """The child's end: connect, say the token, then write batched lines from a thread."""

    def __init__(self, address: str, token: str, flush_s: float = 0.05, capacity: int = 8192):
        host, _, port = address.rpartition(":")
        self._sock = socket.create_connection((host, int(port)), timeout=10)
        self._sock.settimeout(None)
        self._sock.sendall((token + "\n").encode())
        self._lossy: deque = deque(maxlen=capacity)
        self._reliable: deque = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self.dropped = 0
        self.flush_s = flush_s
        self._thread = threading.Thread(target=self._run, name="pipeviz-sender", daemon=True)
        self._thread.start()

    def send(self, event: Any) -> None:
        """O(1), never blocks on the socket."""
        lane = self._lossy if isinstance(event, LOSSY) else self._reliable
        with self._lock:
            if lane is self._lossy and len(lane) == lane.maxlen:
                self.dropped += 1
            lane.append((time.monotonic_ns(), event))
        if lane is self._reliable:
            self._wake.set()

    def _take(self) -> list:
        with self._lock:
            merged = sorted([*self._lossy, *self._reliable], key=lambda pair: pair[0])
            self._lossy.clear()
            self._reliable.clear()
        return [event for _, event in merged]

    def _run(self) -> None:
        while True:
            self._wake.wait(self.flush_s)
            self._wake.clear()
            closing = self._closed
            batch = self._take()
            if batch and not self._write(batch):
                return
            if closing:
                return

    def _write(self, batch: list) -> bool:
        try:
            self._sock.sendall(encode_batch(batch).encode())
            return True
        except OSError as exc:  # the window closed: training goes on, unwatched
            log.info("pipeviz: the window stopped listening (%s)", exc)
            return False

    def wait_closed_by_peer(self) -> bool:
        """Block until the parent closes its end (returns False then); True on stray data."""
        try:
            return bool(self._sock.recv(64))
        except OSError:
            return False

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self, timeout: float = 2.0) -> None:
        """Send what is queued, then close the socket."""
        self._closed = True
        self._wake.set()
        self._thread.join(timeout)
        try:
            self._sock.close()
        except OSError:
            pass


def _lines(stream):
    """The stream's lines until it ends or its socket is shut down under it."""
    try:
        yield from stream
    except (OSError, ValueError):
        return


class Receiver:
    """The parent's end: listen on localhost, accept the child with the right token and
    hand each decoded event to `on_event` (from the receiver's own thread)."""

    def __init__(self, on_event: Callable[[Any], None], token: str):
        self._server = socket.create_server(("127.0.0.1", 0))
        self.address = "%s:%d" % self._server.getsockname()[:2]
        self._on_event = on_event
        self._token = token
        self.bad_lines = 0
        self._conn: socket.socket | None = None
        self.connected = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pipeviz-receiver", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return  # closed
            with conn, conn.makefile("rb") as stream:
                conn.settimeout(TOKEN_WAIT_S)  # a connection that says nothing is dropped
                try:
                    token = stream.readline(256).strip().decode(errors="replace")
                except OSError:
                    continue
                if token != self._token:
                    continue  # not our child
                conn.settimeout(None)
                self._conn = conn
                self.connected.set()
                for line in _lines(stream):
                    try:
                        self._on_event(decode(line))
                    except ValueError as exc:
                        self.bad_lines += 1
                        log.debug("%s", exc)
            return

    def close(self) -> None:
        """Stop listening, and stop reading a connected child (its sends then fail, and it
        trains on unwatched). shutdown() first: close() alone does not wake accept()."""
        for sock in (self._server, self._conn):
            if sock is None:
                continue
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                sock.close()
            except OSError:
                pass

    def join(self, timeout: float | None = None) -> None:
        """Wait until the child closed its end and every line was handed on."""
        self._thread.join(timeout)
