"""The user's tf.data stages, as written and live (core/watch/stages.py), on real small
datasets: the kinds and names the script wrote, the figures tf.data's model gives them, fused
stages, the slowest stage, autotune off, and an iterator used inside a tf.function."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from pipeviz.core.watch.stages import (AUTOTUNE, AUTOTUNE_OFF_NOTE, describe,  # noqa: E402
                                       read_stages, written_stages)


def _six_stages():
    """map -> map(parallel) -> cache -> shuffle -> batch -> prefetch, named as a user would."""
    return (tf.data.Dataset.range(300)
            .map(lambda x: x * 2, name="decode")
            .map(lambda x: x + 1, num_parallel_calls=3, name="augment")
            .cache()
            .shuffle(50)
            .batch(8, name="batch")
            .prefetch(tf.data.AUTOTUNE))


def _run(dataset, batches):
    iterator = iter(dataset)
    for _ in range(batches):
        next(iterator)
    return iterator


def test_written_stages_are_the_script_s_pipeline_in_order_with_names():
    written = written_stages(_six_stages())
    assert [w.kind for w in written] == ["source: range", "map", "map", "cache", "shuffle",
                                         "batch", "prefetch"]
    assert [w.name for w in written] == ["", "decode", "augment", "", "", "batch", ""]
    assert [w.position for w in written] == list(range(1, 8))
    decode, augment = written[1], written[2]
    assert decode.num_parallel_calls is None and augment.num_parallel_calls == 3
    assert written[4].buffer_size == 50
    assert written[5].params["batch_size"] == 8
    assert written[6].buffer_size == AUTOTUNE
    assert describe(decode) == "stage 2: map 'decode'"
    assert describe(written[3]) == "stage 4: cache (unnamed)"


def test_live_stages_carry_tf_data_s_figures_for_each_written_stage():
    dataset = _six_stages()
    written = written_stages(dataset)
    sample = read_stages(_run(dataset, 20), written)
    stages = sample.stages
    assert sample.note == ""
    assert [s.kind for s in stages] == [w.kind for w in written]
    assert [s.name for s in stages] == [w.name for w in written]
    augment = stages[2]
    assert augment.op == "ParallelMapV2" and augment.parallelism == 3 and not augment.autotuned
    decode = stages[1]  # a plain map: tf.data parallelizes it and autotune picks the calls
    assert decode.op == "ParallelMapV2" and decode.autotuned and decode.parallelism >= 1
    assert stages[3].op == "MemoryCache" and stages[3].buffered >= 20 * 8
    assert stages[4].buffer_size == 50
    prefetch = stages[6]
    assert prefetch.op == "Prefetch" and prefetch.buffer_size >= 1 and prefetch.buffered >= 0
    assert stages[5].buffered is None  # a batch holds nothing ready
    assert all(s.time_ms is not None and s.time_ms > 0 for s in stages)
    assert all(s.elements >= 20 for s in stages)
    assert sum(s.slowest for s in stages) == 1 and not prefetch.slowest


def test_a_map_fused_into_its_batch_says_so_and_both_carry_the_fused_figures():
    dataset = tf.data.Dataset.range(200).map(lambda x: x * 3, name="scale").batch(4)
    written = written_stages(dataset)
    stages = read_stages(_run(dataset, 10), written).stages
    scale, batch = stages[1], stages[2]
    assert scale.op == batch.op == "MapAndBatch"
    assert scale.fused_with == "stage 3: batch (unnamed)"
    assert batch.fused_with == "stage 2: map 'scale'"
    assert scale.time_ms == batch.time_ms and scale.parallelism == batch.parallelism


def test_a_sleeping_py_function_map_is_the_slowest_stage():
    def slow(x):
        time.sleep(0.003)
        return x

    dataset = (tf.data.Dataset.range(200)
               .map(lambda x: tf.py_function(slow, [x], tf.int64), name="sleepy")
               .map(lambda x: x + 1, name="cheap")
               .batch(4).prefetch(1))
    written = written_stages(dataset)
    stages = read_stages(_run(dataset, 12), written).stages
    slowest = [s for s in stages if s.slowest]
    assert [s.name for s in slowest] == ["sleepy"]
    sleepy = slowest[0]
    # 3 ms per element, 4 elements a batch, over its parallelism
    assert sleepy.time_ms >= 2.5
    assert sleepy.parallelism is None  # a py_function map stays serial
    assert sleepy.ms_per_batch >= 4 * 2.5


def test_autotune_off_gives_the_note_and_no_figures():
    options = tf.data.Options()
    options.autotune.enabled = False
    dataset = (tf.data.Dataset.range(100).map(lambda x: x, num_parallel_calls=2, name="m")
               .batch(4).prefetch(2).with_options(options))
    written = written_stages(dataset)
    assert [w.kind for w in written] == ["source: range", "map", "batch", "prefetch"]
    sample = read_stages(_run(dataset, 3), written)
    assert sample.note == AUTOTUNE_OFF_NOTE and "autotune" in sample.note
    for stage in sample.stages:
        assert stage.time_ms is None and stage.ms_per_batch is None
        assert stage.buffered is None and stage.elements is None and not stage.slowest
    # what the script set is still said: the map's calls and the prefetch's buffer
    assert sample.stages[1].parallelism == 2 and sample.stages[3].buffer_size == 2


def test_an_iterator_driven_inside_a_tf_function_is_read():
    dataset = tf.data.Dataset.range(400).map(lambda x: x * 2, name="twice").batch(8)
    iterator = iter(dataset)

    @tf.function
    def step(it):
        return tf.reduce_sum(next(it))

    for _ in range(15):
        step(iterator)
    stages = read_stages(iterator, written_stages(dataset)).stages
    assert stages[1].name == "twice" and stages[1].elements >= 15
    assert all(s.time_ms is not None for s in stages)


def test_pipeviz_s_own_stages_are_left_out_and_not_taken_for_the_user_s():
    """pipeviz zips a clock ahead of the user's pipeline and maps after it (hook/stamps);
    those stages are no user stage, even when the user's last stage is a map too."""
    user = tf.data.Dataset.range(200).batch(4).map(lambda b: b + 1, num_parallel_calls=3,
                                                   name="last")
    clock = tf.data.Dataset.from_tensors(tf.constant(0, tf.int8)).repeat().map(
        lambda _: tf.timestamp(), name="pipeviz_request_stamp")
    stamped = tf.data.Dataset.zip((clock, user), name="pipeviz_request_stamp").map(
        lambda t, b: b, name="pipeviz_request_stamp")
    written = written_stages(user)
    assert [w.kind for w in written_stages(stamped)] == [w.kind for w in written]
    assert [w.kind for w in written_stages(stamped, skip_tail=2)] == [w.kind for w in written]
    stages = read_stages(_run(stamped, 10), written).stages
    last = stages[2]
    assert last.name == "last" and last.parallelism == 3 and not last.autotuned


def test_reading_from_another_thread_while_training_iterates_is_safe():
    """The sampling thread reads while the training thread takes batches: every element
    arrives once, in order, and every read succeeds."""
    dataset = tf.data.Dataset.range(3000).map(lambda x: x + 0, name="id").prefetch(4)
    written = written_stages(dataset)
    iterator = iter(dataset)
    reads, errors = [], []

    def sample():
        for _ in range(300):
            try:
                reads.append(read_stages(iterator, written))
            except Exception as error:  # noqa: BLE001  the test reports it
                errors.append(error)

    reader = threading.Thread(target=sample)
    reader.start()
    values = [int(x) for x in iterator]
    reader.join()
    assert values == list(range(3000))
    assert not errors and len(reads) == 300
    assert all(r.note == "" for r in reads)
    assert np.all(np.diff([r.stages[1].elements for r in reads]) >= 0)


def test_file_and_generator_sources_are_one_stage_each(tmp_path):
    """TextLineDataset(files) and from_generator are written as a flat map over file names
    (or a generator id); the script wrote one source stage, and it gets the flat map's
    figures."""
    lines = tmp_path / "lines.txt"
    lines.write_text("\n".join(f"line number {i}" for i in range(300)))
    text = (tf.data.TextLineDataset([str(lines)]).map(tf.strings.length, name="length")
            .batch(4))
    written = written_stages(text)
    assert [w.kind for w in written] == ["source: text lines", "map", "batch"]
    stages = read_stages(_run(text, 10), written).stages
    assert stages[0].op == "FlatMap" and stages[0].elements >= 40

    def numbers():
        yield from range(300)

    generated = tf.data.Dataset.from_generator(
        numbers, output_signature=tf.TensorSpec([], tf.int64)).batch(4)
    written = written_stages(generated)
    assert [w.kind for w in written] == ["source: generator", "batch"]
    stages = read_stages(_run(generated, 10), written).stages
    assert stages[0].elements >= 40 and stages[0].time_ms is not None


def test_take_repeat_skip_and_unbatch_find_their_renamed_nodes():
    """tf.data's model names them FiniteTake, FiniteRepeat, FiniteSkip; unbatch's own
    densifying map is no stage of the script's."""
    dataset = (tf.data.Dataset.range(400).skip(3).batch(4).unbatch().batch(8).repeat(2)
               .take(60))
    written = written_stages(dataset)
    assert [w.kind for w in written] == ["source: range", "skip", "batch", "unbatch", "batch",
                                         "repeat", "take"]
    stages = read_stages(_run(dataset, 20), written).stages
    assert [s.op for s in stages] == ["Range", "FiniteSkip", "BatchV2", "Unbatch", "BatchV2",
                                      "FiniteRepeat", "FiniteTake"]
    assert written[6].params["count"] == 60


def test_alignment_under_keras_s_prefetch_and_pipeviz_s_stamp_zip():
    """The model of the iterator `pipeviz run` reads in a Keras fit (seen there): Keras's
    prefetch and pipeviz's stamp map on top, the zip with the clock, then the user's
    prefetch, map+batch fused and a serial map. Each user stage finds its own node."""
    from tensorflow.core.framework import model_pb2

    from pipeviz.core.watch.stages import Written, align

    seen = [(1, "Root", [2]), (2, "Prefetch", [3]), (3, "Map", [4]), (4, "Zip", [5, 8]),
            (5, "Map", [6]), (6, "ForeverRepeat", [74]), (74, "FromTensor", []),
            (8, "Prefetch", [9]), (9, "MapAndBatch", [10]), (10, "Map", [11]),
            (11, "TensorSlice", [])]
    nodes = {}
    for node_id, name, inputs in seen:
        nodes[node_id] = model_pb2.ModelProto.Node(id=node_id, name=name, inputs=inputs)
    written = [Written(1, "source: tensor slices", "TensorSliceDataset"),
               Written(2, "map", "MapDataset", "decode"),
               Written(3, "map", "ParallelMapDatasetV2", "augment"),
               Written(4, "batch", "BatchDatasetV2"), Written(5, "prefetch", "PrefetchDataset")]
    assert align(nodes, 1, written) == {5: 8, 4: 9, 3: 9, 2: 10, 1: 11}


def test_something_that_is_not_a_tf_data_iterator_says_so_instead_of_raising():
    """The sampling thread must not die on an odd iterator (a distributed one, say)."""
    written = written_stages(tf.data.Dataset.range(10).batch(2))
    sample = read_stages(object(), written)
    assert sample.note.startswith("tf.data's model of the iterator could not be read")
    assert [s.kind for s in sample.stages] == ["source: range", "batch"]
    assert all(s.time_ms is None for s in sample.stages)


def test_stages_without_a_node_in_tf_data_s_model_are_named_in_the_note():
    """A stage tf.data's model has no node for gets no figures (None, shown "?"), and the
    sample's note names it and says why, instead of a row of question marks unexplained."""
    from pipeviz.core.watch.events import Stage
    from pipeviz.core.watch.stages import unread_note
    read = Stage(2, "batch", "BatchV2", elements=8, time_ms=0.05)
    assert unread_note([read]) == ""
    one = unread_note([Stage(1, "source: tensor slices", "TensorSliceDataset"), read])
    assert one.startswith("tf.data's model of the running iterator has no node for stage 1, "
                          "so its figures are unknown (?)")
    two = unread_note([Stage(1, "source", "X"), Stage(3, "cache", "Y"), read])
    assert "no node for stages 1, 3, so their figures" in two


def test_pipeviz_s_own_map_is_never_taken_for_the_user_s():
    """tf.data's model names nodes by op alone: when it has no node for the user's map (yet),
    pipeviz's stamp map on top of the pipeline must not be read as that map (it was, once:
    a 2 ms-a-element map read 0.03 ms)."""
    from tensorflow.core.framework import model_pb2

    from pipeviz.core.watch.stages import Written, live_stages
    proto = model_pb2.ModelProto(output=1)
    for node_id, name, inputs, elements in (
            (1, "Root", [2], 8), (2, "Map", [3], 8), (3, "Zip", [4, 7], 8),  # pipeviz's stamp
            (4, "Map", [5], 8), (5, "ForeverRepeat", [6], 8), (6, "FromTensor", [], 1),
            (7, "BatchV2", [], 8)):  # the user's batch; the map below it not in the model
        node = proto.nodes[node_id]
        node.id, node.name, node.num_elements, node.processing_time = node_id, name, elements, 10**6
        node.inputs.extend(inputs)
    written = [Written(1, "source: range", "RangeDataset"), Written(2, "map", "MapDataset"),
               Written(3, "batch", "BatchDatasetV2")]
    stages = live_stages(proto, written)
    assert [s.elements for s in stages] == [None, None, 8]
    proto.nodes[3].ClearField("inputs")  # the zip has the clock's node, none of the user's yet
    proto.nodes[3].inputs.append(4)
    assert [s.elements for s in live_stages(proto, written)] == [None, None, None]
