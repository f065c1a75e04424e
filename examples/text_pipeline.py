"""Classify made-up sentences by topic: a text pipeline with tokenization inside tf.data.

What it shows: text files read line by line (TextLineDataset, several files interleaved),
each line parsed into a label and a sentence, the sentence lower-cased, stripped of
punctuation, split into words and turned into word ids by a StringLookup, then padded batches
of varying length and a prefetch, feeding a small embedding-and-pooling classifier. The
tokenization runs inside the pipeline, per sentence, as it would for real text.

The data are made up here: sentences about four topics (weather, sport, food, music), each
from a small vocabulary of topic words, filler words and a word or two from another topic,
written to a few text files in a temporary folder that is removed at the end (or to
--data-dir, kept and reused).

    python examples/text_pipeline.py                       # about 25 s here
    pipeviz run examples/text_pipeline.py                  # the same, watched
    pipeviz run examples/text_pipeline.py --epochs 1 --steps-per-epoch 50   # a few seconds
    python examples/text_pipeline.py --fixed               # tokenize whole batches (the fix)

Input-bound despite its parallel maps and prefetch: tokenizing one sentence at a time costs
more than the small model's step. Measured without pipeviz by benchmarks/scripts/
input_truth.py (60 steps on the pipeline, then on those batches held in memory, 7 rounds,
median of the rounds' 1 - in_memory / pipeline) on the 2-core CPU machine this was written on
(TensorFlow 2.21 CPU, load 2-4 from other jobs), defaults:
    as written:  14.4 ms per step on the pipeline, 2.6 ms on in-memory batches: 83% input wait
                 (rounds 81-86%), highly input-bound; a default run took 24.5 s, 16.0 s in fit.
    --fixed:     2.9 ms against 2.6 ms, both in the noise of a 3 ms step (rounds -51% to +37%;
                 an earlier run read 0%); a default run took 15.0 s, 4.9 s in fit.
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

import numpy as np
import tensorflow as tf

TOPICS = {
    "weather": "rain sun cloud storm wind snow cold warm forecast thunder fog humid breeze",
    "sport": "goal match team score coach player league referee stadium season win race",
    "food": "bread soup cheese recipe oven spicy dinner salad bake flavour kitchen sweet",
    "music": "song guitar concert drum melody band album lyrics piano chorus singer rhythm",
}
FILLER = ("the a this that we they it was is today yesterday really quite very and but so "
          "with for about after before our their new old big small good bad again").split()
FILES = 8


def write_sentences(folder: str, count: int, seed: int) -> None:
    """`count` lines "topic<TAB>Sentence." over FILES text files; skipped when already there."""
    done = os.path.join(folder, ".complete")
    if os.path.exists(done):
        return
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    names = list(TOPICS)
    words = {t: TOPICS[t].split() for t in names}
    lines: list[list[str]] = [[] for _ in range(FILES)]
    for i in range(count):
        topic = names[rng.integers(len(names))]
        other = names[rng.integers(len(names))]
        sentence = list(rng.choice(words[topic], rng.integers(1, 4)))
        sentence += list(rng.choice(words[other], rng.integers(0, 3)))  # red herrings
        sentence += list(rng.choice(FILLER, rng.integers(3, 20)))
        rng.shuffle(sentence)
        text = " ".join(sentence).capitalize() + rng.choice([".", "!", "?", "..."])
        lines[i % FILES].append(f"{topic}\t{text}")
    for k, part in enumerate(lines):
        with open(os.path.join(folder, f"part-{k:02d}.txt"), "w") as f:
            f.write("\n".join(part) + "\n")
    open(done, "w").close()


def make_dataset(folder: str, batch_size: int, seed: int,
                 fixed: bool = False) -> tuple[tf.data.Dataset, int]:
    """Lines -> (padded word ids, label) batches, and the vocabulary's size.

    As written the tokenization runs once per sentence: a handful of small string ops each,
    and tf.data's fixed cost per element and per op outweighs the work, even in parallel and
    prefetched. The model (an embedding average) needs far less time per batch than that.
    THE FIX (what --fixed does): batch the raw lines first, then parse and tokenize whole
    batches at once; the same ops on 64 lines cost little more than on one (the ragged ids
    padded with 0 as padded_batch would):
        lines.shuffle(4096)
        .batch(batch_size)
        .map(parse_and_tokenize, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    """
    topics = tf.constant(list(TOPICS))

    def parse(line):
        fields = tf.strings.split(line, "\t")
        label = tf.argmax(tf.cast(fields[0] == topics, tf.int32))
        return fields[1], label

    def words(text):
        text = tf.strings.lower(text)
        text = tf.strings.regex_replace(text, r"[^a-z ]", "")
        return tf.strings.split(text)

    files = tf.data.Dataset.list_files(os.path.join(folder, "part-*.txt"), shuffle=True, seed=seed)
    lines = files.interleave(tf.data.TextLineDataset, cycle_length=4)
    parsed = lines.map(parse, num_parallel_calls=tf.data.AUTOTUNE)

    # the vocabulary from the data itself, one pass over the words
    lookup = tf.keras.layers.StringLookup()
    lookup.adapt(parsed.map(lambda text, label: text).batch(1024).map(words))

    def tokenize(text, label):
        return lookup(words(text)), label

    def parse_and_tokenize(batch):  # the fix: a batch of lines, "topic<TAB>text" each
        topic = tf.strings.regex_replace(batch, r"\t.*", "")
        label = tf.argmax(tf.cast(topic[:, None] == topics, tf.int32), axis=1)
        text = tf.strings.regex_replace(batch, r"^[^\t]*\t", "")
        return lookup(words(text)).to_tensor(), label

    if fixed:
        ds = (lines.shuffle(4096, seed=seed).batch(batch_size)
              .map(parse_and_tokenize, num_parallel_calls=tf.data.AUTOTUNE))
    else:
        ds = (parsed.shuffle(4096, seed=seed)
              .map(tokenize, num_parallel_calls=tf.data.AUTOTUNE)
              .padded_batch(batch_size))
    return ds.prefetch(tf.data.AUTOTUNE), lookup.vocabulary_size()


def make_model(vocabulary_size: int) -> tf.keras.Model:
    """Word embeddings averaged over the sentence, then a small dense head: cheap on a CPU."""
    model = tf.keras.Sequential([
        tf.keras.layers.Input((None,), dtype="int64"),
        tf.keras.layers.Embedding(vocabulary_size, 32, mask_zero=True),
        tf.keras.layers.GlobalAveragePooling1D(),
        tf.keras.layers.Dense(32, activation="relu"),
        tf.keras.layers.Dense(len(TOPICS)),
    ])
    model.compile(optimizer="adam",
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="where the text files go (kept, and reused next "
                                           "time); default: a temporary folder, removed at the end")
    parser.add_argument("--num-sentences", type=int, default=20000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--steps-per-epoch", type=int, default=None,
                        help="default: every sentence each epoch")
    parser.add_argument("--fixed", action="store_true",
                        help="tokenize whole batches, not one sentence at a time (the fix)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    tf.keras.utils.set_random_seed(args.seed)
    folder = args.data_dir or tempfile.mkdtemp(prefix="text_pipeline-")
    try:
        started = time.perf_counter()
        write_sentences(folder, args.num_sentences, args.seed)
        ds, vocabulary_size = make_dataset(folder, args.batch_size, args.seed, args.fixed)
        print(f"{args.num_sentences} sentences in {folder}, {vocabulary_size} words "
              f"({time.perf_counter() - started:.1f} s)")
        if args.steps_per_epoch:
            ds = ds.repeat()  # fit takes steps_per_epoch batches from an endless stream
        model = make_model(vocabulary_size)
        started = time.perf_counter()
        model.fit(ds, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch, verbose=2)
        print(f"trained in {time.perf_counter() - started:.1f} s")
    finally:
        if not args.data_dir:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
