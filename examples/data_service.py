"""Train a small CNN on a pipeline served by tf.data service: a dispatcher and two workers on
this machine.

What it shows: distributed input. The images are made (rendered and augmented) by two
tf.data service workers, each a process of its own, and sent to the training process, which
reads them through `.apply(tf.data.experimental.service.distribute(...))`. Watched, the window
shows the "data service" stage, the batches it holds ready and how many workers serve it.

With `--kill-worker-after-steps N` the script kills one worker (SIGKILL, as a crashed machine
would die) after N training steps. TensorFlow then waits for that worker forever, with no
error: the training hangs. Watched, pipeviz says that the input has stalled and names the
worker that does not answer. Plain, the script only hangs; Ctrl+C ends it.

The data are made up on the workers: noisy 32x32 striped patterns, four classes, one per
stripe angle, each image drawn from its own index (stateless random ops), so nothing is read
from disk or the network and every run sees the same images.

    python examples/data_service.py                                  # about 40 s here
    pipeviz run examples/data_service.py                             # the same, watched
    pipeviz run examples/data_service.py --kill-worker-after-steps 30   # a worker dies

The workers are this script run again with `--worker-of`; they end with it, whichever way it
ends (normally, an error, Ctrl+C, SIGTERM), and on their own if it is killed.
"""
from __future__ import annotations

import argparse
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import tensorflow as tf

CLASSES = 4
SIZE = 32


def render(index):
    """Image `index`: stripes at its class's angle with a random phase, frequency, colour
    and noise, drawn from the index so that any worker makes the same image."""
    label = index % CLASSES
    seed = tf.stack([index, tf.constant(7, tf.int64)])
    jitter = tf.random.stateless_uniform([4], seed, 0.0, 1.0)
    angle = tf.cast(label, tf.float32) * (math.pi / CLASSES) + 0.1 * (jitter[0] - 0.5)
    frequency = (2.0 + 2.0 * jitter[1]) * 2.0 * math.pi / SIZE
    yy, xx = tf.meshgrid(tf.range(SIZE, dtype=tf.float32), tf.range(SIZE, dtype=tf.float32),
                         indexing="ij")
    along = tf.cos(angle) * xx + tf.sin(angle) * yy
    stripes = 0.5 + 0.5 * tf.sin(along * frequency + 2.0 * math.pi * jitter[2])
    noise = tf.random.stateless_normal([SIZE, SIZE, 3], seed + 1, stddev=0.15)
    image = stripes[..., None] * (0.3 + 0.7 * jitter[3]) + noise
    return image, label


def augment(image, label):
    """A random half turn (flipped up-down and left-right: the stripes keep their angle, so
    the class holds) and a random brightness shift, as a training pipeline would."""
    turn = tf.random.uniform([]) < 0.5
    image = tf.where(turn, tf.reverse(image, [0, 1]), image)
    return tf.image.adjust_brightness(image, tf.random.uniform([], -0.1, 0.1)), label


def input_pipeline(dispatcher: str, images: int, batch: int) -> tf.data.Dataset:
    """Render, augment and batch on the workers (each element once: distributed_epoch);
    prefetch here, in the training process."""
    served = (tf.data.Dataset.range(images)
              .shuffle(1024, seed=1, name="shuffle_indices")
              .map(render, num_parallel_calls=tf.data.AUTOTUNE, name="render")
              .map(augment, num_parallel_calls=tf.data.AUTOTUNE, name="augment")
              .batch(batch, name="batch"))
    distributed = served.apply(tf.data.experimental.service.distribute(
        processing_mode="distributed_epoch", service=dispatcher))
    return distributed.prefetch(tf.data.AUTOTUNE, name="prefetch")


def make_model() -> tf.keras.Model:
    model = tf.keras.Sequential([
        tf.keras.Input((SIZE, SIZE, 3)),
        tf.keras.layers.Conv2D(16, 3, activation="relu"),
        tf.keras.layers.MaxPooling2D(),
        tf.keras.layers.Conv2D(32, 3, activation="relu"),
        tf.keras.layers.GlobalAveragePooling2D(),
        tf.keras.layers.Dense(CLASSES),
    ])
    model.compile(optimizer="adam", metrics=["accuracy"],
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


# ---------------------------------------------------------------- the service's processes

def free_ports(count: int) -> list[int]:
    """`count` distinct free ports (all held open while chosen: one at a time, the system
    may hand out the same port twice)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("localhost", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


STARTED: list[tuple[subprocess.Popen, str]] = []
"""Every worker started, for the exit that cannot wait for `finally`."""


def start_workers(dispatcher: str, count: int) -> list[tuple[subprocess.Popen, str]]:
    """`count` worker processes (this script with --worker-of), once each says it is up;
    each is in STARTED from its start, so that whatever fails next still ends it."""
    workers = []
    for port in free_ports(count):
        process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--worker-of", dispatcher,
             "--port", str(port), "--parent", str(os.getpid())],
            stdout=subprocess.PIPE)
        workers.append((process, f"localhost:{port}"))
        STARTED.append(workers[-1])
    for process, address in workers:
        if process.stdout.readline().strip() != b"ready":
            raise RuntimeError(f"the tf.data service worker at {address} did not start")
    return workers


def stop_workers(workers) -> None:
    for process, _ in workers:
        if process.poll() is None:
            process.kill()
    for process, _ in workers:
        process.wait()


def run_worker(dispatcher: str, port: int, parent: int) -> None:
    """A worker process: serves until its parent is gone (even if the parent was killed
    and never stopped it)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C: the parent ends its workers
    config = tf.data.experimental.service.WorkerConfig(
        dispatcher_address=dispatcher, worker_address=f"localhost:{port}", port=port)
    server = tf.data.experimental.service.WorkerServer(config)  # serves while referenced
    print("ready", flush=True)
    while os.getppid() == parent:
        time.sleep(0.5)
    server._stop()  # noqa: SLF001  no public stop; the process ends next anyway
    os._exit(0)


class KillWorker(tf.keras.callbacks.Callback):
    """Kills a worker after `steps` training steps, to show what a dead worker does."""

    def __init__(self, worker: tuple[subprocess.Popen, str], steps: int):
        super().__init__()
        self.worker, self.steps, self.seen = worker, steps, 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        process, address = self.worker
        if self.seen == self.steps and process.poll() is None:
            process.send_signal(signal.SIGKILL)
            print(f"\nkilled the tf.data service worker at {address} after {self.steps} "
                  "steps; the input will stall (TensorFlow waits for it forever). "
                  "Ctrl+C ends the script.", flush=True)


# ---------------------------------------------------------------- main

def parse(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--images", type=int, default=6144, help="images per epoch")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kill-worker-after-steps", type=int, default=0, metavar="N",
                        help="kill one worker after N training steps (0: never)")
    parser.add_argument("--worker-of", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--parent", type=int, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def train(args: argparse.Namespace) -> None:
    dispatcher = tf.data.experimental.service.DispatchServer(
        tf.data.experimental.service.DispatcherConfig(port=0))
    address = dispatcher.target.split("://")[1]
    try:
        workers = start_workers(address, args.workers)
        print(f"tf.data service: dispatcher {address}, workers "
              f"{', '.join(a for _, a in workers)}", flush=True)
        callbacks = ([KillWorker(workers[0], args.kill_worker_after_steps)]
                     if args.kill_worker_after_steps > 0 else [])
        model = make_model()
        started = time.time()
        model.fit(input_pipeline(dispatcher.target, args.images, args.batch),
                  epochs=args.epochs, callbacks=callbacks, verbose=2)
        print(f"trained {args.epochs} epochs in {time.time() - started:.1f} s")
    finally:
        stop_workers(STARTED)


def end_even_when_blocked(grace_s: float = 1.0) -> None:
    """Make Ctrl+C and SIGTERM end the script even while TensorFlow blocks the main thread.

    Python runs signal handlers in the main thread between bytecodes, so a training step
    waiting for a dead worker never sees KeyboardInterrupt. The C-level handler does write
    the signal's number to the wakeup fd at once; a thread reading it gives the main thread
    `grace_s` to end through its `finally` blocks, then ends the workers and the process.
    """
    read, write = os.pipe()
    os.set_blocking(write, False)
    signal.set_wakeup_fd(write)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    def watch() -> None:
        while True:
            for number in os.read(read, 64):
                if number in (signal.SIGINT, signal.SIGTERM):
                    time.sleep(grace_s)
                    stop_workers(STARTED)
                    os._exit(128 + number)

    threading.Thread(target=watch, name="end-even-when-blocked", daemon=True).start()


def main(argv=None) -> int:
    args = parse(argv)
    if args.worker_of:
        run_worker(args.worker_of, args.port, args.parent)
        return 0
    end_even_when_blocked()
    try:
        train(args)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
