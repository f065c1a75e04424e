"""What this machine can hold: the upper ends of the knobs' ranges that follow the hardware.

A knob that sizes threads (parallel reads and maps) is bounded by the core count, one that
sizes a buffer (shuffle, prefetch) by physical memory: values far past them do not speed
anything up, they start thousands of threads or allocate gigabytes and crash the process
(`shuffle_buffer=2000000000` segfaulted TensorFlow here, `parallel_reads=100000` started
~20k threads). Plain Python, no TensorFlow: config.py checks its ranges with these.
"""
from __future__ import annotations

import functools
import os

RECORD_BYTES_IN_MEMORY = 1024
"""What one shuffled record costs tf.data (792 raw bytes plus its tensor's overhead)."""
BATCH_BYTES_PER_EXAMPLE = 28 * 28 * 4 + 64
"""What one example of a normalized batch costs in a prefetch buffer (float32 pixels)."""
MEMORY_SHARE = 4
"""A knob's buffer may take at most 1/MEMORY_SHARE of physical memory."""
THREADS_PER_CORE = 16
"""Parallel reads and maps may exceed the cores (reads mostly wait on storage), by this much."""
MIN_THREADS_LIMIT = 64
MAX_SHUFFLE_BUFFER = 1 << 22
"""4M records: far beyond any MNIST split (70k); the memory bound is usually lower."""
MAX_PREFETCH = 1024


@functools.cache
def cores() -> int:
    """Cores this process may run on (its affinity mask, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@functools.cache
def memory_bytes() -> int:
    """Physical memory (8 GiB when it cannot be read)."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return 8 << 30


def memory_budget() -> int:
    """Bytes one buffer knob may take."""
    return memory_bytes() // MEMORY_SHARE


def max_parallel() -> int:
    """The most parallel reads or maps: a few per core, at least MIN_THREADS_LIMIT."""
    return max(MIN_THREADS_LIMIT, THREADS_PER_CORE * cores())


def max_shuffle_buffer() -> int:
    return max(1, min(MAX_SHUFFLE_BUFFER, memory_budget() // RECORD_BYTES_IN_MEMORY))


def max_prefetch(batch_size: int) -> int:
    """The most batches a prefetch buffer may hold at this batch size."""
    per_batch = max(1, batch_size) * BATCH_BYTES_PER_EXAMPLE
    return max(1, min(MAX_PREFETCH, memory_budget() // per_batch))
