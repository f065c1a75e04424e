"""Worker threads run below the GUI thread's priority, so a pen-up is handled at once while
training keeps the cores busy (core/priority.py)."""
import os
import sys
import threading

import pytest

from conftest import wait_until
from pipeviz.core import priority
from pipeviz.core.priority import BACKGROUND_NICE, lower_this_thread

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")


def _nice(tid: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, tid)


@pytest.fixture
def yielding():
    """Workers yield to a GUI, as in the app (a Session switches it on)."""
    before = priority._yield_to_gui
    priority.workers_yield_to_gui(True)
    yield
    priority.workers_yield_to_gui(before)


@linux_only
def test_lowering_a_thread_leaves_the_calling_thread_and_its_siblings_alone(yielding):
    main_before = _nice(threading.get_native_id())
    seen = {}

    def worker():
        seen["lowered"] = lower_this_thread()
        seen["nice"] = _nice(threading.get_native_id())
        child = threading.Thread(target=lambda: seen.__setitem__("child", _nice(threading.get_native_id())))
        child.start()
        child.join()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen["lowered"] and seen["nice"] >= BACKGROUND_NICE
    assert seen["child"] >= BACKGROUND_NICE, "the threads a worker starts inherit its priority"
    assert _nice(threading.get_native_id()) == main_before, "the GUI thread keeps its priority"


@linux_only
def test_the_trainer_thread_runs_below_the_gui_thread(yielding, small_shards, step_loop):
    from test_trainer import make_trainer
    trainer, _channel = make_trainer(small_shards, loop=step_loop, epochs=1000)
    main_before = _nice(threading.get_native_id())
    trainer.start()
    try:
        assert wait_until(lambda: trainer.global_step > 2, 60)
        assert _nice(trainer._thread.native_id) >= BACKGROUND_NICE
        assert _nice(threading.get_native_id()) == main_before
    finally:
        trainer.stop()
        assert trainer.join(10)


@linux_only
def test_without_a_gui_workers_keep_their_priority():
    """`pipeviz bench` (no Session, no GUI thread to favour) measures at normal priority."""
    before = priority._yield_to_gui
    priority.workers_yield_to_gui(False)
    try:
        seen = {}

        def worker():
            seen["lowered"] = lower_this_thread()
            seen["nice"] = _nice(threading.get_native_id())

        main = _nice(threading.get_native_id())
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
        assert not seen["lowered"] and seen["nice"] == main
    finally:
        priority.workers_yield_to_gui(before)


def test_a_session_switches_yielding_on(tmp_path):
    from pipeviz.core.session import Session
    before = priority._yield_to_gui
    priority.workers_yield_to_gui(False)
    try:
        Session(tmp_path, write_scalars=False)
        assert priority._yield_to_gui
    finally:
        priority.workers_yield_to_gui(before)
