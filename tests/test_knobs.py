"""Knob changes are named in words, one definition for every place that names them."""
import pytest

from pipeviz.core.config import AUTOTUNE, PipelineConfig
from pipeviz.core.knobs import change_label, changes_text


@pytest.mark.parametrize("field, value, text", [
    ("prefetch", 0, "prefetch off"), ("prefetch", AUTOTUNE, "prefetch on"), ("prefetch", 3, "prefetch 3"),
    ("parallel_reads", 4, "4 parallel reads"), ("parallel_reads", 1, "one read at a time"),
    ("parallel_map", AUTOTUNE, "parallel normalize"), ("parallel_map", 1, "normalize inline"),
    ("parallel_map", 4, "normalize, 4 parallel calls"), ("parallel_augment", AUTOTUNE, "parallel augment"),
    ("parallel_augment", 1, "augment inline"), ("augment", False, "augment off"),
    ("cache", True, "cache on"), ("cache", False, "cache off"), ("batch_size", 64, "batch 64"),
    ("storage_latency_ms", 6.5, "storage 6.5 ms"), ("shuffle_buffer", 512, "shuffle 512")])
def test_each_knob_reads_as_words(field, value, text):
    assert change_label(PipelineConfig().replace(**{field: value}), field) == text


def test_several_changes_join():
    config = PipelineConfig(prefetch=0, batch_size=64)
    assert changes_text(config, ("prefetch", "batch_size")) == "prefetch off, batch 64"
    assert "_" not in changes_text(config, tuple(f for f in config.__dataclass_fields__))


def test_a_whole_config_is_described_in_the_same_words():
    config = PipelineConfig(prefetch=0, parallel_reads=4, parallel_map=AUTOTUNE, storage_latency_ms=6.5)
    assert config.describe() == ("prefetch off, 4 parallel reads, parallel normalize, cache off, "
                                 "batch 32, augment inline, storage 6.5 ms per batch")
    assert "augment off" in config.replace(augment=False).describe()
    assert " x" not in PipelineConfig(parallel_augment=AUTOTUNE).describe()
