"""The user's tf.data stages: as the script wrote them, and live, from tf.data itself.

Two sources, because neither alone says enough:
- the dataset's serialized graph (`written_stages`) has the pipeline as the script wrote it,
  with the `name=` each transformation was given and the `num_parallel_calls` and buffer
  sizes the script set, but nothing about the running iterator;
- tf.data's model of the running iterator (`tf.data.experimental.get_model_proto`, read by
  `read_stages`) has the live figures (parallelism autotune chose, elements buffered,
  processing time) but no names, and describes the graph after tf.data's static
  optimizations (map and batch fused into MapAndBatch, a plain map made a ParallelMapV2,
  prefetches injected), with whatever Keras and pipeviz appended on top.
`read_stages` aligns the second onto the first by kind, so each stage the script wrote gets
the figures of the node that runs it, or None where tf.data optimized it away.
"""
from __future__ import annotations

import functools
import re
import time
from dataclasses import dataclass, field

from .events import Stage, StagesSampled

AUTOTUNE = -1
"""`tf.data.AUTOTUNE` as it is stored in the graph."""
BOOKKEEPING_OPS = frozenset({"OptionsDataset", "ModelDataset", "MaxIntraOpParallelismDataset",
                             "PrivateThreadPoolDataset"})
"""Ops tf.data adds for options and autotuning; not stages the user wrote."""
PIPEVIZ_PREFIX = "pipeviz"
"""Stages pipeviz appends are named so (`stamps.STAMP_STAGE_NAME`); they are left out."""
MIN_ELEMENTS = 5
"""A stage that produced fewer elements than this is not judged the slowest (too few
samples, e.g. a cache that has been filled and is no longer asked)."""
AUTOTUNE_OFF_NOTE = (
    "autotune is off for this dataset (options.autotune.enabled = False), so tf.data keeps "
    "no model of the running pipeline: parallelism, buffer fill and processing time cannot "
    "be read. Leave options.autotune.enabled at its default (True) to see them.")

_KINDS = {
    "Map": "map", "ParallelMap": "map", "MapAndBatch": "map and batch",
    "Interleave": "interleave", "ParallelInterleave": "interleave",
    "LegacyParallelInterleave": "interleave", "FlatMap": "flat map",
    "Batch": "batch", "ParallelBatch": "batch", "PaddedBatch": "padded batch",
    "Prefetch": "prefetch", "Cache": "cache", "MemoryCache": "cache", "FileCache": "cache",
    "Shuffle": "shuffle", "ShuffleAndRepeat": "shuffle and repeat",
    "Filter": "filter", "ParallelFilter": "filter", "Repeat": "repeat", "Take": "take", "Skip": "skip", "Unbatch": "unbatch",
    "Zip": "zip", "Concatenate": "concatenate", "DataService": "data service",
    "Range": "source: range", "TensorSlice": "source: tensor slices",
    "Tensor": "source: tensors", "FromTensor": "source: tensors",
    "TFRecord": "source: TFRecord files", "TextLine": "source: text lines",
    "FixedLengthRecord": "source: fixed-length records", "Generator": "source: generator",
}
_READERS = frozenset({"source: TFRecord files", "source: text lines",
                      "source: fixed-length records", "source: generator"})
_COVERS = {"map and batch": ("map", "batch", "map and batch"),
           "shuffle and repeat": ("shuffle", "repeat", "shuffle and repeat")}
"""A fused node of tf.data's model runs each of these written kinds."""
_NOT_STAGES = frozenset({"Root", "MemoryCacheImpl"})
"""Nodes of tf.data's model that are no stage of their own (the iterator's root; the cache's
store, read into the cache stage)."""
_AUTO_NAME = re.compile(r"^\w+:\d+$")
"""tf.data names an unnamed dataset "<Op>:<counter>"."""


@dataclass(frozen=True, slots=True)
class Written:
    """One stage of the pipeline as the script wrote it (from the dataset's graph)."""

    position: int
    """From the source (1) to the last stage the script wrote."""
    kind: str
    op: str
    name: str = ""
    num_parallel_calls: int | None = None
    """What the script set: AUTOTUNE (-1), a number, or None (not set: serial)."""
    buffer_size: int | None = None
    params: dict = field(default_factory=dict)
    """Other constant arguments worth a word (batch_size, cycle_length, count...)."""
    address: str = ""
    """tf.data service: the dispatcher's address ("localhost:5050")."""
    processing_mode: str = ""
    """tf.data service: the sharding policy ("OFF" for parallel epochs, "DYNAMIC"...)."""
    dataset_id: str = ""
    """tf.data service: the id the dispatcher knows the workers' pipeline by."""


def describe(stage) -> str:
    """How a stage (Written or Stage) is named in words: "stage 3: map 'decode'"."""
    name = f"'{stage.name}'" if stage.name else "(unnamed)"
    return f"stage {stage.position}: {stage.kind} {name}"


_DESCRIBED_POSITION = re.compile(r"(?:^|, )stage (\d+): ")


def fused_positions(stage: Stage) -> set[int]:
    """The positions of the stages tf.data runs in the same node as `stage` (read back from
    `Stage.fused_with`, which `describe`s them)."""
    return {int(n) for n in _DESCRIBED_POSITION.findall(stage.fused_with or "")}


@functools.lru_cache(maxsize=256)
def kind_of(op: str) -> str:
    """The canonical kind of a graph op or a model node ("ParallelMapDatasetV2" -> "map")."""
    base = base_of(op)
    if base in _KINDS:
        return _KINDS[base]
    return re.sub(r"(?<!^)(?=[A-Z][a-z])", " ", base).lower()


def base_of(op: str) -> str:
    """The op without prefix, "Dataset" and version: "ExperimentalMapAndBatchDatasetV2" ->
    "MapAndBatch"; model nodes are named the same way without "Dataset"."""
    base = re.sub(r"^(Experimental|Finite|Forever|Infinite|Empty)(?=[A-Z])", "", op)
    base = re.sub(r"Dataset$", "", re.sub(r"(V\d+)$", "", base))
    return base or op


# ---------------------------------------------------------------- the written pipeline

def written_stages(dataset, skip_tail: int = 0) -> list[Written]:
    """The pipeline as the script wrote it, source first.

    Walks from the final dataset node along its first dataset input to the source, leaving
    out tf.data's bookkeeping, the stages pipeviz appends (named "pipeviz..."), and the
    `skip_tail` final nodes of the chain (bookkeeping counted), for a caller that appended
    stages of its own without naming them.
    """
    from tensorflow.core.framework import graph_pb2

    graph = graph_pb2.GraphDef()
    graph.ParseFromString(dataset._as_serialized_graph().numpy())
    return graph_stages(graph, skip_tail)


def graph_stages(graph, skip_tail: int = 0) -> list[Written]:
    """`written_stages` of a dataset's GraphDef (also what a tf.data service dispatcher
    holds of a registered dataset, see service.served_stages)."""
    nodes = {node.name: node for node in graph.node}
    functions = {f.signature.name: f for f in graph.library.function}
    chain = _main_chain(nodes, functions)[skip_tail:]
    kept = [node for node in chain if _is_users(node, nodes, functions)]
    kept.reverse()
    return [_written(i + 1, node, nodes, functions) for i, node in enumerate(kept)]


def _main_chain(nodes, functions) -> list:
    """The dataset nodes from the final one to the source, along first dataset inputs."""
    final = next((n for n in nodes.values() if n.op == "_Retval"), None)
    node = _dataset_inputs(final, nodes)[0] if final is not None else list(nodes.values())[-1]
    chain = []
    while node is not None:
        chain.append(node)
        if _reader_flat_map(node, functions):
            break  # the flat map over the file names (or generator id) is the source
        inputs = _dataset_inputs(node, nodes)
        users = [n for n in inputs if not _named_pipeviz(n)]
        node = (users or inputs or [None])[0]
    return chain


def _dataset_inputs(node, nodes) -> list:
    names = [i.split(":")[0] for i in node.input if not i.startswith("^")]
    return [nodes[n] for n in names if n in nodes and _is_dataset(nodes[n])]


def _is_dataset(node) -> bool:
    return "Dataset" in node.op


def _is_users(node, nodes, functions) -> bool:
    """Not bookkeeping, not pipeviz's, not the maps tf.data service adds to compress and
    uncompress what the workers send, not the map `unbatch()` adds to make ragged or sparse
    elements dense (its function is "..._map_normalize_...")."""
    if node.op in BOOKKEEPING_OPS or _named_pipeviz(node):
        return False
    if "_map_normalize_" in node.attr["f"].func.name:
        return False
    return not (_service_uncompress(node, nodes) or _service_compress(node, functions))


def _service_compress(node, functions) -> bool:
    """The map `distribute` appends to the workers' pipeline (its function compresses)."""
    function = functions.get(node.attr["f"].func.name) if "f" in node.attr else None
    return function is not None and any(n.op == "CompressElement" for n in function.node_def)


def _service_uncompress(node, nodes) -> bool:
    """The map a tf.data service dataset adds on top of itself when serialized to
    uncompress what the workers send (its function is named "..._uncompress_...")."""
    inputs = _dataset_inputs(node, nodes)
    return (bool(inputs) and base_of(inputs[0].op) == "DataService"
            and "uncompress" in node.attr["f"].func.name)


def _named_pipeviz(node) -> bool:
    return _name(node).startswith(PIPEVIZ_PREFIX)


def _name(node) -> str:
    """The `name=` the script gave, from the node's `metadata` attr (a serialized
    dataset_metadata_pb2.Metadata); "" for tf.data's own "<Op>:<n>" names."""
    if "metadata" not in node.attr:
        return ""
    from tensorflow.core.framework import dataset_metadata_pb2

    metadata = dataset_metadata_pb2.Metadata()
    metadata.ParseFromString(node.attr["metadata"].s)
    name = metadata.name.decode(errors="replace")  # a bytes field
    return "" if _AUTO_NAME.match(name) else name


def _reader_flat_map(node, functions) -> str:
    """The source kind of a flat map that reads: `from_generator`, `TextLineDataset(files)`,
    `TFRecordDataset(files)` are written as a flat map over the file names (or a generator
    id) whose function makes the reader; "" for any other node."""
    if base_of(node.op) != "FlatMap":
        return ""
    function = functions.get(node.attr["f"].func.name)
    readers = [kind_of(n.op) for n in function.node_def] if function is not None else []
    return next((k for k in readers if k in _READERS), "")


def _listed_files(node, nodes) -> str:
    """`Dataset.list_files(pattern)` is a from_tensor_slices of the matching names (found
    when the dataset is made), which tf.data marks with a "FileIdentity" node on the same
    constant: say "file names", what the stage yields."""
    if base_of(node.op) != "TensorSlice":
        return ""
    sliced = {name.split(":")[0] for name in node.input}
    marked = any(n.op == "Identity" and n.name.startswith("FileIdentity")
                 and {i.split(":")[0] for i in n.input} & sliced for n in nodes.values())
    return "source: file names" if marked else ""


def _written(position: int, node, nodes, functions) -> Written:
    args = _const_args(node, nodes)
    kind = _reader_flat_map(node, functions) or _listed_files(node, nodes) or kind_of(node.op)
    parallel = args.get("num_parallel_calls")
    buffer_size = args.get("buffer_size")
    params = {k: args[k] for k in ("batch_size", "cycle_length", "block_length", "count")
              if k in args}
    service = {}
    if kind == "data service":
        service = {"address": _text(args.get("address")),
                   "processing_mode": _processing_mode(args.get("processing_mode")),
                   "dataset_id": _text(args.get("dataset_id"))}
    return Written(position, kind, node.op, _name(node),
                   None if parallel is None else int(parallel),
                   None if buffer_size is None else int(buffer_size), params, **service)


def _const_args(node, nodes) -> dict:
    """The node's constant inputs by the op's argument names ("num_parallel_calls": -1).

    Inputs are matched to the op definition's arguments, counting list arguments
    (`other_arguments`) by their attrs, so the index of an argument never has to be guessed.
    """
    from tensorflow.python.framework import op_def_registry, tensor_util

    op_def = op_def_registry.get(node.op)
    if op_def is None:
        return {}
    inputs = [i for i in node.input if not i.startswith("^")]
    values, index = {}, 0
    for arg in op_def.input_arg:
        count = _arg_count(arg, node)
        if count == 1 and index < len(inputs):
            source = nodes.get(inputs[index].split(":")[0])
            if source is not None and source.op == "Const":
                try:
                    value = tensor_util.MakeNdarray(source.attr["value"].tensor)
                except (KeyError, TypeError, ValueError):
                    value = None
                if value is not None and value.ndim == 0:
                    values[arg.name] = value.item()
        index += count
    return values


def _arg_count(arg, node) -> int:
    if arg.number_attr:
        return node.attr[arg.number_attr].i
    if arg.type_list_attr:
        return len(node.attr[arg.type_list_attr].list.type)
    return 1


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else ("" if value is None else str(value))


def _processing_mode(value) -> str:
    """The sharding policy's name from a serialized ProcessingModeDef ("" -> "OFF")."""
    if not isinstance(value, bytes):
        return _text(value)
    from tensorflow.core.protobuf import data_service_pb2

    mode = data_service_pb2.ProcessingModeDef()
    mode.ParseFromString(value)
    return data_service_pb2.ProcessingModeDef.ShardingPolicy.Name(mode.sharding_policy)


# ---------------------------------------------------------------- the running pipeline

def read_stages(iterator, written: list[Written], batches_delivered: int | None = None,
                workers=None) -> StagesSampled:
    """The written stages with the figures of the running iterator, now.

    `batches_delivered`: batches the training took so far (the root's count when None);
    `workers`: a callable address -> number of tf.data service workers (or None), for
    a "data service" stage (`service.ServiceWorkers.count`).
    """
    import tensorflow as tf

    t = time.time()
    try:
        proto = tf.data.experimental.get_model_proto(iterator)
    except tf.errors.NotFoundError:
        return StagesSampled(t, tuple(_bare(w, workers) for w in written), AUTOTUNE_OFF_NOTE)
    except (tf.errors.OpError, TypeError, ValueError) as error:  # e.g. not an owned iterator
        note = f"tf.data's model of the iterator could not be read: {_first_line(error)}"
        return StagesSampled(t, tuple(_bare(w, workers) for w in written), note)
    stages = live_stages(proto, written, batches_delivered, workers)
    return StagesSampled(t, tuple(stages), unread_note(stages))


def unread_note(stages: list[Stage]) -> str:
    """Why some stages have no figures although tf.data's model was read: the model has no
    node for them ("" when every stage has its node)."""
    unread = [s.position for s in stages if s.elements is None]
    if not unread:
        return ""
    several = len(unread) > 1
    return (f"tf.data's model of the running iterator has no node for stage"
            f"{'s' if several else ''} {', '.join(map(str, unread))}, so "
            f"{'their' if several else 'its'} figures are unknown (?): the model leaves out "
            "what tf.data optimized away and what it has not built an iterator for (yet).")


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def live_stages(proto, written: list[Written], batches_delivered: int | None = None,
                workers=None) -> list[Stage]:
    """`written` with the figures of the model nodes that run them (see `align`)."""
    nodes = dict(proto.nodes)
    root = nodes.get(proto.output)
    batches = batches_delivered or (root.num_elements if root is not None else 0)
    matched = _aligned(nodes, users_top(nodes, proto.output), written)
    stages = []
    for w in written:
        node_id = matched.get(w.position)
        partners = [o for o in written if o is not w and node_id is not None
                    and matched.get(o.position) == node_id]
        stages.append(_live(w, nodes, node_id, batches, partners, workers))
    return _mark_slowest(stages)


def _bare(w: Written, workers) -> Stage:
    """A written stage with no live figure (None, never 0)."""
    return Stage(w.position, w.kind, w.op, w.name, parallelism=_written_parallelism(w),
                 autotuned=w.num_parallel_calls == AUTOTUNE,
                 buffer_size=w.buffer_size if (w.buffer_size or 0) > 0 else None,
                 workers=_workers(w, workers))


def _written_parallelism(w: Written) -> int | None:
    return w.num_parallel_calls if (w.num_parallel_calls or 0) > 0 else None


def _workers(w: Written, workers) -> int | None:
    return workers(w.address) if workers is not None and w.address else None


def _live(w: Written, nodes, node_id, batches: int, partners, workers) -> Stage:
    if node_id is None:
        return _bare(w, workers)
    node = nodes[node_id]
    param = {p.name: p for p in node.parameters}
    parallel = param.get("parallelism")
    parallelism = int(parallel.value) if parallel is not None else None
    size = param.get("buffer_size") or param.get("max_buffered_elements")
    buffer_size = int(size.value) if size is not None else (
        w.buffer_size if (w.buffer_size or 0) > 0 else None)
    time_ms = node.processing_time / node.num_elements / 1e6 if node.num_elements else None
    per_batch = (node.processing_time / batches / (parallelism or 1) / 1e6
                 if batches else None)
    return Stage(w.position, w.kind, node.name, w.name, parallelism=parallelism,
                 autotuned=bool(parallel is not None and parallel.tunable),
                 buffer_size=buffer_size, buffered=_buffered(node, nodes, buffer_size),
                 time_ms=time_ms, ms_per_batch=per_batch, elements=int(node.num_elements),
                 fused_with=", ".join(describe(p) for p in partners),
                 workers=_workers(w, workers))


def _buffered(node, nodes, buffer_size) -> int | None:
    """Elements held ready: an asynchronous node's buffer, a shuffle's buffer, a cache's
    store; None for a node that holds none (a serial map, a batch)."""
    if node.name == "MemoryCache" and node.inputs and nodes.get(node.inputs[0]) is not None:
        impl = nodes[node.inputs[0]]
        if impl.name == "MemoryCacheImpl":
            return int(impl.buffered_elements)
    asynchronous = "ASYNC" in _node_class(node)
    if asynchronous or buffer_size is not None or node.buffered_elements:
        return int(node.buffered_elements)
    return None


def _node_class(node) -> str:
    from tensorflow.core.framework import model_pb2

    return model_pb2.NodeClass.Name(node.node_class)


def _mark_slowest(stages: list[Stage]) -> list[Stage]:
    """`slowest=True` on the stage needing the most time per batch delivered (prefetch and
    stages with too few elements aside); the first in position order on a tie (a map fused
    into its batch, rather than the batch)."""
    candidates = [s for s in stages if s.ms_per_batch is not None and s.kind != "prefetch"
                  and s.elements >= MIN_ELEMENTS]
    if not candidates:
        return stages
    slowest = max(candidates, key=lambda s: s.ms_per_batch)
    return [_replace(s, slowest=True) if s is slowest else s for s in stages]


def _replace(stage: Stage, **changes) -> Stage:
    from dataclasses import replace

    return replace(stage, **changes)


# ---------------------------------------------------------------- alignment

CLOCK_KINDS = ("map", "repeat", "source: tensors")
"""The request stamp's clock in tf.data's model (stamps.StepClock.stamp_requests): a map
over a repeated tensor, the first input of the zip pipeviz puts on top of the pipeline."""


def users_top(nodes: dict, output: int) -> int | None:
    """The model node the user's pipeline ends at: below pipeviz's request stamp (a zip of
    the clock and the pipeline, then a map), when it is there; None when the zip has no
    node for the pipeline yet (only the clock's). tf.data's model names nodes by their op
    alone, so without this pipeviz's own maps could be taken for the user's map when the
    model has no node for that one (yet)."""
    node_id = output
    for _ in range(8):  # the stamp is within a few nodes of the root
        node = nodes.get(node_id)
        if node is None or not node.inputs:
            break
        if kind_of(node.name) == "zip" and _chain_kinds(nodes, node.inputs[0]) == CLOCK_KINDS:
            return node.inputs[1] if len(node.inputs) > 1 else None
        node_id = node.inputs[0]
    return output


def _chain_kinds(nodes: dict, node_id: int) -> tuple[str, ...]:
    kinds = []
    while node_id in nodes and len(kinds) <= len(CLOCK_KINDS):
        node = nodes[node_id]
        kinds.append(kind_of(node.name))
        if not node.inputs:
            break
        node_id = node.inputs[0]
    return tuple(kinds)

_ALIGNED: dict = {}
"""Alignments by the model's shape: it keeps its nodes while the iterator runs, so the
search runs once per iterator, not at every read (0.2 ms a read instead of 5 ms)."""


def _aligned(nodes: dict, output: int, written: list[Written]) -> dict[int, int]:
    key = (output, tuple((i, n.name, tuple(n.inputs)) for i, n in sorted(nodes.items())),
           tuple((w.position, w.kind) for w in written))
    found = _ALIGNED.get(key)  # (read once: another thread may clear the dict meanwhile)
    if found is None:
        if len(_ALIGNED) > 64:
            _ALIGNED.clear()
        found = _ALIGNED[key] = align(nodes, output, written)
    return found


def align(nodes: dict, output: int, written: list[Written]) -> dict[int, int]:
    """Which model node runs each written stage: {position: node id}.

    Walks tf.data's model from its output along first inputs, matching the written stages
    from the last one down by kind. A node may be skipped (one tf.data injected, or one
    Keras or pipeviz appended on top) and a written stage may go unmatched (optimized
    away); among alignments matching the most stages, the one skipping the fewest nodes
    between matches wins, so nodes appended on top are skipped rather than the user's own.
    A skipped node with several inputs (pipeviz's zip) is followed along each; a matched
    one only along its first (an interleave's other inputs are its per-file pipelines).
    """
    wanted = tuple(reversed(written))

    @functools.lru_cache(maxsize=None)
    def best(node_id, j, used) -> tuple[int, int, tuple]:
        if j == len(wanted) or node_id is None or node_id not in nodes:
            return 0, 0, ()
        node = nodes[node_id]
        inputs = list(node.inputs) or [None]
        options = [best(node_id, j + 1, used)]  # the written stage is not in the model
        covers = _covers(node, nodes)
        kind = wanted[j].kind
        if kind in covers and kind not in used:
            stay = best(node_id, j + 1, used | {kind})  # a fused node runs the next too
            down = best(inputs[0], j + 1, frozenset())
            for count, gaps, pairs in (stay, down):
                options.append((count + 1, gaps, ((wanted[j].position, node_id),) + pairs))
        gap = 1 if (j > 0 and node.name not in _NOT_STAGES and not used) else 0
        for nxt in (inputs if len(inputs) > 1 and not used else inputs[:1]):
            count, gaps, pairs = best(nxt, j, frozenset())
            options.append((count, gaps + gap, pairs))
        return max(options, key=lambda o: (o[0], -o[1]))

    return dict(best(output, 0, frozenset())[2])


def _covers(node, nodes) -> tuple[str, ...]:
    """The written kinds a model node can run; a flat map also the reader its per-file
    inputs are (TextLine, TFRecord, Generator)."""
    if node.name in _NOT_STAGES:
        return ()
    kind = kind_of(node.name)
    if kind == "flat map":
        inner = [kind_of(nodes[i].name) for i in node.inputs[1:] if i in nodes]
        return (kind, *(k for k in inner if k in _READERS))
    return _COVERS.get(kind, (kind,))
