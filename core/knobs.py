"""Knob display text, defined once: how a change of each pipeline knob is named in words
wherever the window names it (the markers on the plots, the status bar)."""
from __future__ import annotations

from .config import AUTOTUNE, PipelineConfig


def change_label(config: PipelineConfig, field: str) -> str:
    """The new value of `field` in `config`, in words: "prefetch off", "storage 6.5 ms"."""
    value = getattr(config, field)
    if field == "prefetch":
        return "prefetch off" if value == 0 else "prefetch on" if value == AUTOTUNE else f"prefetch {value}"
    if field == "parallel_reads":
        return f"{value} parallel reads" if value > 1 else "one read at a time"
    if field == "parallel_map":
        return _map_words("normalize", value)
    if field == "parallel_augment":
        return _map_words("augment", value)
    if field == "cache":
        return "cache on" if value else "cache off"
    if field == "batch_size":
        return f"batch {value}"
    if field == "shuffle_buffer":
        return f"shuffle {value}"
    if field == "storage_latency_ms":
        return f"storage {value:g} ms"
    if field == "latency_per":
        return f"latency per {value}"
    if isinstance(value, bool):
        return f"{field.replace('_', ' ')} {'on' if value else 'off'}"
    return f"{field.replace('_', ' ')} {'auto' if value == AUTOTUNE else value}"


def _map_words(stage: str, value: int) -> str:
    """A map stage's parallelism: "normalize inline", "parallel normalize" (autotuned),
    "normalize, 4 parallel calls"."""
    if value == 1:
        return f"{stage} inline"
    return f"parallel {stage}" if value == AUTOTUNE else f"{stage}, {value} parallel calls"


def describe(config: PipelineConfig) -> str:
    """The whole config in the same words: "prefetch on, one read at a time, normalize
    inline, cache off, batch 32, augment inline, storage 6.5 ms per batch" (bench tables,
    the experiment's rows and CSV)."""
    fields = ["prefetch", "parallel_reads", "parallel_map", "cache", "batch_size"]
    fields.append("parallel_augment" if config.augment else "augment")
    text = changes_text(config, tuple(fields))
    if config.storage_latency_ms:
        text += f", {change_label(config, 'storage_latency_ms')} per {config.latency_per}"
    return text


def changes_text(config: PipelineConfig, fields: tuple[str, ...]) -> str:
    """Every changed knob in words, e.g. "prefetch off, batch 64"."""
    return ", ".join(change_label(config, field) for field in fields)


CONTROL_TEXT = {
    "prefetch": "Prefetch",
    "parallel_reads": "Parallel reading",
    "parallel_map": "Parallel normalize",
    "augment": "Augment",
    "parallel_augment": "in parallel",
    "cache": "Cache",
    "storage_latency_ms": "Storage latency",
    "balance": "= step",
    "latency_auto": "match at Start",
}
"""The window's names for its controls, which the notes and the guide refer to by name."""
