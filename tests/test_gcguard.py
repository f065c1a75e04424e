"""The GUI-thread garbage collector: young collections on its timer, a freeze instead of
full collections while training animates, a full collection when asked."""
import gc
import weakref


class Node:
    """Something that can sit in a reference cycle."""


def cycle() -> weakref.ref:
    node = Node()
    node.me = node
    return weakref.ref(node)


def churn(collector, rounds: int) -> None:
    for _ in range(rounds):
        for _ in range(30):
            cycle()
        collector.check()


def test_young_garbage_is_collected_and_full_collections_become_freezes(qtbot):
    from PySide6.QtCore import QObject
    from pipeviz.gui.gcguard import GuiThreadCollector

    parent = QObject()
    collector = GuiThreadCollector(parent, interval_ms=60_000)  # driven by hand here
    try:
        assert not gc.isenabled(), "automatic collection (in any thread) is off"
        collector.thresholds = (20, 2, 2)
        alive_at_freeze = Node()
        alive_at_freeze.me = alive_at_freeze
        frozen_ref = weakref.ref(alive_at_freeze)
        churn(collector, 40)
        assert collector.freezes >= 1 and gc.get_freeze_count() > 0
        young = cycle()
        churn(collector, 5)
        assert young() is None, "garbage made after a freeze is still collected"
        del alive_at_freeze  # now garbage, but frozen: only a full collection finds it
        churn(collector, 5)
        assert frozen_ref() is not None
        collector.collect_all()
        assert frozen_ref() is None and gc.get_freeze_count() == 0
    finally:
        collector.stop()
    assert gc.isenabled()
