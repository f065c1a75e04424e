"""The last run of a script: stored, read back, compared; any bad file is ignored, never
fatal."""
from __future__ import annotations

import json
import logging
import os

import pytest

from pipeviz.core.watch import advice as adv
from pipeviz.core.watch import history
from pipeviz.core.watch.events import ScriptStarted, Stage, StagesSampled
from pipeviz.core.watch.summary import RunSummary

from test_watch_advice import batch, map_, prefetch, source, step

SCRIPT = "/home/user/project/train.py"


def summary_of(wait_ms: float, compute_ms: float, stages: tuple[Stage, ...],
               script: str = SCRIPT, steps: int = 40) -> RunSummary:
    summary = RunSummary()
    summary.add(ScriptStarted(script, (), 123, 0.0))
    for n in range(steps):
        summary.add(step(n, wait_ms, compute_ms))
    summary.add(StagesSampled(1.0, stages))
    return summary


SERIAL = (source(), map_(2, "decode", ms=60.0, slowest=True), batch(3), prefetch(4))
PARALLEL = (source(), map_(2, "decode", ms=15.0, parallelism=4, slowest=True), batch(3),
            prefetch(4))


def test_round_trip_and_the_followed_advice_measured(tmp_path):
    """Run 1: a serial decode, 60 ms wait + 20 compute; the advice predicts a gain. Run 2:
    the decode is parallel, 0 wait: examples/s 4x; the parallel advice is found followed,
    its prediction compared with the measured +300%."""
    first = summary_of(60, 20, SERIAL)
    advice = adv.advise(first)
    path = history.save(first, advice, tmp_path, when=1000.0)
    assert path is not None and path.parent == tmp_path / history.FOLDER
    last = history.load(SCRIPT, tmp_path)
    assert last.when == 1000.0 and last.summary == json.loads(json.dumps(first.to_json()))
    assert [a["kind"] for a in last.advice] == [a.kind for a in advice]

    second = summary_of(0.5, 20, PARALLEL)
    comparison = history.compare(last, second)
    assert comparison.ratio == pytest.approx(80 / 20.5)
    assert comparison.input_wait_before == pytest.approx(0.75)
    assert comparison.input_wait_after == pytest.approx(0.5 / 20.5)
    kinds = [f.kind for f in comparison.followed]
    assert kinds == [adv.PARALLEL]
    followed = comparison.followed[0]
    predicted = next(a.predicted_gain for a in advice if a.kind == adv.PARALLEL)
    assert followed.predicted_gain == pytest.approx(predicted, abs=1e-4)
    assert followed.measured_gain == pytest.approx(80 / 20.5 - 1)
    assert followed.met is (followed.measured_gain >= history.MET_SHARE * predicted)
    assert comparison.to_json()["followed"][0]["kind"] == adv.PARALLEL


def test_met_is_judged_against_the_prediction():
    assert history.Followed("x", "", 1.0, 0.85).met is True
    assert history.Followed("x", "", 1.0, 0.75).met is False
    assert history.Followed("x", "", None, 0.75).met is None


def test_an_unchanged_script_follows_nothing_and_prefetch_and_cache_are_seen(tmp_path):
    no_prefetch = SERIAL[:3]
    first = summary_of(60, 20, no_prefetch)
    history.save(first, adv.advise(first), tmp_path)
    last = history.load(SCRIPT, tmp_path)
    assert history.compare(last, summary_of(60, 20, no_prefetch)).followed == ()
    with_both = (SERIAL[0], SERIAL[1], Stage(3, "cache", "Cache"), batch(4), prefetch(5))
    kinds = {f.kind for f in history.compare(last, summary_of(1, 20, with_both)).followed}
    assert adv.PREFETCH in kinds and adv.CACHE in kinds and adv.PARALLEL not in kinds


def test_a_map_fused_with_its_batch_and_still_serial_has_not_followed_the_advice(tmp_path):
    """tf.data reports a serial map it fused with the batch at parallelism 1: run again
    unchanged, the parallel advice is not taken for followed; autotuned, it is."""
    def fused(parallelism: int, autotuned: bool = False) -> tuple[Stage, ...]:
        return (source(), Stage(2, "map", "MapAndBatch", parallelism=parallelism,
                                autotuned=autotuned, ms_per_batch=60.0, slowest=True,
                                fused_with="stage 3: batch (unnamed)"),
                Stage(3, "batch", "MapAndBatch", parallelism=parallelism, autotuned=autotuned,
                      ms_per_batch=60.0, fused_with="stage 2: map (unnamed)"))
    first = summary_of(60, 20, fused(1))
    advice = adv.advise(first)
    assert adv.PARALLEL in [a.kind for a in advice]
    history.save(first, advice, tmp_path)
    last = history.load(SCRIPT, tmp_path)
    assert history.compare(last, summary_of(60, 20, fused(1))).followed == ()
    assert [f.kind for f in history.compare(last, summary_of(30, 20, fused(1, True))).followed] \
        == [adv.PARALLEL]


def test_an_unnamed_map_is_found_again_after_a_stage_is_inserted_before_it(tmp_path):
    first_stages = (source(), map_(2, ms=60.0, slowest=True), batch(3), prefetch(4))
    first = summary_of(60, 20, first_stages)
    history.save(first, adv.advise(first), tmp_path)
    inserted = (source(), Stage(2, "filter", "Filter"), map_(3, ms=10.0, parallelism=6,
                                                                slowest=True), batch(4),
                prefetch(5))
    comparison = history.compare(history.load(SCRIPT, tmp_path), summary_of(1, 20, inserted))
    assert [f.kind for f in comparison.followed] == [adv.PARALLEL]


def test_scripts_keep_separate_histories_and_runs_without_steps_are_not_recorded(tmp_path):
    history.save(summary_of(60, 20, SERIAL), [], tmp_path)
    assert history.load("/elsewhere/train.py", tmp_path) is None
    assert history.save(summary_of(60, 20, SERIAL, steps=0), [], tmp_path) is None
    assert history.load(SCRIPT, tmp_path).summary["steps"] == 40


def test_exchange_compares_with_the_last_run_and_replaces_it(tmp_path):
    assert history.exchange(summary_of(60, 20, SERIAL), [], tmp_path) is None
    comparison = history.exchange(summary_of(20, 20, SERIAL), [], tmp_path)
    assert comparison.ratio == pytest.approx(80 / 40)
    assert history.load(SCRIPT, tmp_path).summary["input_wait_fraction"] == 0.5


def record(tmp_path, content) -> None:
    path = history.history_path(SCRIPT, tmp_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())


def good_doc(tmp_path) -> dict:
    history.save(summary_of(60, 20, SERIAL), [], tmp_path)
    return json.loads(history.history_path(SCRIPT, tmp_path).read_bytes())


@pytest.mark.parametrize("bad", [
    b"\x00\xff\xfegarbage\x89PNG", b"", b"   \n", b'{"format": "pipeviz-watch-history", "ver',
    b"[" * 100_000, b"[1, 2, 3]", b'"a string"', b"null",
])
def test_garbage_empty_and_half_written_files_are_ignored_with_a_log_line(tmp_path, caplog, bad):
    record(tmp_path, bad)
    with caplog.at_level(logging.WARNING):
        assert history.load(SCRIPT, tmp_path) is None
    assert "ignoring the last run's record" in caplog.text


@pytest.mark.parametrize("change", [
    {"format": "something-else"}, {"version": 99}, {"script": "/other/train.py"},
    {"summary": [1, 2]}, {"summary": {"steps": 3}}, {"summary": {"examples_per_s": "fast",
                                                                 "input_wait_fraction": 0.1}},
    {"advice": {"kind": "x"}}, {"advice": ["text"]}, {"when": "yesterday"},
])
def test_records_of_the_wrong_shape_or_someone_else_are_ignored(tmp_path, caplog, change):
    doc = good_doc(tmp_path)
    doc.update(change)
    record(tmp_path, doc)
    with caplog.at_level(logging.WARNING):
        assert history.load(SCRIPT, tmp_path) is None
    assert "ignoring" in caplog.text


def test_a_folder_in_place_of_the_record_is_ignored_and_not_written_over(tmp_path, caplog):
    path = history.history_path(SCRIPT, tmp_path)
    path.mkdir(parents=True)
    with caplog.at_level(logging.WARNING):
        assert history.load(SCRIPT, tmp_path) is None
        assert history.save(summary_of(60, 20, SERIAL), [], tmp_path) is None
    assert "a folder" in caplog.text and "could not record" in caplog.text
    assert path.is_dir()


def test_a_file_in_place_of_the_cache_folder_never_raises(tmp_path, caplog):
    (tmp_path / history.FOLDER).write_text("not a folder")
    with caplog.at_level(logging.WARNING):
        assert history.load(SCRIPT, tmp_path) is None
        assert history.save(summary_of(60, 20, SERIAL), [], tmp_path) is None
        assert history.exchange(summary_of(60, 20, SERIAL), [], tmp_path) is None
    assert "could not record" in caplog.text


def test_a_read_only_cache_folder_never_raises_and_leaves_no_temporary(tmp_path, caplog,
                                                                      monkeypatch):
    folder = history.history_dir(tmp_path)
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):  # root writes anyway: fail the write as EACCES would
            def refuse(path, data):
                raise PermissionError(13, "Permission denied", str(path))
            monkeypatch.setattr(history, "_write", refuse)
        with caplog.at_level(logging.WARNING):
            assert history.save(summary_of(60, 20, SERIAL), [], tmp_path) is None
            assert history.load(SCRIPT, tmp_path) is None
        assert "could not record" in caplog.text
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o700)


def test_an_unreadable_record_is_ignored(tmp_path, caplog, monkeypatch):
    record(tmp_path, b"{}")

    def refuse(path):
        raise PermissionError(13, "Permission denied", str(path))
    monkeypatch.setattr(history, "open_regular", refuse)
    with caplog.at_level(logging.WARNING):
        assert history.load(SCRIPT, tmp_path) is None
    assert "Permission denied" in caplog.text


def test_the_cache_folder_is_pipevizs_own(tmp_path, monkeypatch):
    monkeypatch.setenv("PIPEVIZ_CACHE_DIR", str(tmp_path / "cache"))
    assert history.history_dir() == tmp_path / "cache" / history.FOLDER
