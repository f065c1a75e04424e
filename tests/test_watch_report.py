"""`--report` and `--json` for a watched run: the verdict at TensorBoard's thresholds, the
time split adding up, the stages in order, the advice and the last run; a run that never
trained or raised says so."""
from __future__ import annotations

import json

import pytest

from pipeviz.core.watch import advice as adv
from pipeviz.core.watch import history
from pipeviz.core.watch.events import InputStalled, ScriptFinished, ScriptStarted, Stage
from pipeviz.core.watch.report import NEVER_TRAINED, json_report, text_report
from pipeviz.core.watch.summary import RunSummary

from test_watch_advice import run, source

STAGES = (
    source(ms=0.5),
    Stage(2, "interleave", "ParallelInterleaveV4", "read", parallelism=4, autotuned=True,
          buffer_size=8, buffered=3, time_ms=2.5, ms_per_batch=1.25),
    Stage(3, "map", "Map", "decode", time_ms=1.5, ms_per_batch=48.0, slowest=True),
    Stage(4, "batch", "MapAndBatch", fused_with="map 'augment'", time_ms=0.2, ms_per_batch=0.2),
    Stage(5, "prefetch", "Prefetch", autotuned=True, buffer_size=4, buffered=0,
          time_ms=0.01, ms_per_batch=0.01),
)


def finished(summary: RunSummary, code: int = 0, tb: str = "") -> RunSummary:
    summary.add(ScriptStarted("/tmp/train.py", ("--epochs", "1"), 42, 0.0))
    summary.add(ScriptFinished(code, tb, summary.steps))
    return summary


@pytest.mark.parametrize("wait,verdict", [(4.9, "not input-bound"), (5.1, "moderately input-bound"),
                                          (19.9, "moderately input-bound"),
                                          (20.1, "highly input-bound")])
def test_verdict_at_tensorboards_thresholds(wait, verdict):
    """Wait w of a 100 ms step (compute 100 - w): the verdict flips at 5% and 20%."""
    summary = finished(run(wait, 100 - wait, stages=STAGES))
    text = text_report(summary)
    assert f"Verdict: {verdict}: input wait was {wait / 100:.1%} of the time in steps" in text
    assert json_report(summary)["verdict"] == verdict


def test_time_split_adds_up_and_names_examples_per_second():
    """Wait 30, host 5, between 5, compute 60 ms per step, 50 steps of 32: 320 examples/s."""
    summary = finished(run(30, 60, 5, 5, STAGES))
    text = text_report(summary)
    assert "100.0 ms per step = wait 30.0 + host 5.0 + between 5.0 + compute 60.0" in text
    for part, ms, share in (("wait", "30.00", "30.0%"), ("host", "5.00", "5.0%"),
                            ("between", "5.00", "5.0%"), ("compute", "60.00", "60.0%")):
        row = next(line for line in text.splitlines() if line.split()[:1] == [part])
        assert row.split() == [part, ms, "ms", share]
    assert "Steps: 50 (1,600 examples) in 5.0 s: 320.0 examples/s." in text
    # the verdict's share leaves the time between steps out, and says so with its size
    assert f"input wait was {30 / 95:.1%} of the time in steps" in text
    assert "the time between steps, 5.0% of the wall clock, is left out" in text


def test_stage_rows_in_order_with_their_figures():
    summary = finished(run(30, 60, stages=tuple(reversed(STAGES)),
                           note="autotune is off for the cache: its figures are missing"))
    lines = text_report(summary).splitlines()
    head = next(i for i, line in enumerate(lines) if line.split()[:2] == ["#", "kind"])
    rows = [line.split() for line in lines[head + 1: head + 6]]
    assert [r[0] for r in rows] == ["1", "2", "3", "4", "5"]
    assert rows[1][:8] == ["2", "interleave", "read", "4", "(autotuned)", "3/8", "2.500", "1.250"]
    assert rows[2] == ["3", "map", "decode", "serial", "-", "1.500", "48.0", "slowest"]
    assert rows[3][-3:] == ["with", "map", "'augment'"] and "fused" in rows[3]
    assert rows[4][:6] == ["5", "prefetch", "(unnamed)", "-", "0/4", "(autotuned)"]
    assert lines[head + 6] == "Note: autotune is off for the cache: its figures are missing"


def test_json_keys_and_stage_fields():
    summary = finished(run(30, 60, 5, 5, STAGES))
    advice = adv.advise(summary)
    out = json.loads(json.dumps(json_report(summary, None, advice)))
    assert out["verdict"] == "highly input-bound"
    assert out["input_wait_fraction"] == pytest.approx(30 / 95, abs=1e-4)
    assert out["idle_fraction"] == pytest.approx(0.4)
    assert out["steps"] == 50
    assert out["examples_per_s"] == out["images_per_s"] == pytest.approx(320.0)
    assert [s["kind"] for s in out["stages"]] == ["source: TensorSliceDataset", "interleave",
                                                  "map", "batch", "prefetch"]
    decode = out["stages"][2]
    assert (decode["parallelism"], decode["buffered"], decode["time_ms"]) == (None, None, 1.5)
    assert out["stages"][1]["buffered"] == 3
    assert [a["kind"] for a in out["advice"]] == [a.kind for a in advice]
    assert adv.PARALLEL in [a["kind"] for a in out["advice"]]
    assert out["previous"] is None and out["ending"] == "" and out["traceback"] == ""


def test_the_advice_is_printed_with_its_prediction():
    summary = finished(run(30, 60, 5, 5, STAGES))
    advice = adv.advise(summary)
    text = text_report(summary, None, advice)
    parallel = next(a for a in advice if a.kind == adv.PARALLEL)
    assert "Set `num_parallel_calls=tf.data.AUTOTUNE` on stage 3: map 'decode'" in text
    assert (f"Predicted: {parallel.predicted_gain:+.0%} examples/s (320.0 -> "
            f"{parallel.predicted_examples_per_s:,.1f})") in text


def test_a_run_that_never_trained_says_so():
    summary = finished(RunSummary())
    text = text_report(summary)
    assert NEVER_TRAINED in text and "Verdict" not in text
    assert "The script ran no training steps: pipeviz watches keras Model.fit and " \
           "pipeviz.watch(...)" in text
    out = json_report(summary)
    assert out["steps"] == 0 and out["verdict"] == "no training steps"
    assert NEVER_TRAINED in out["ending"]


def test_a_run_that_raised_says_so_with_the_exception():
    tb = 'Traceback (most recent call last):\n  File "train.py", line 9\nValueError: bad shape\n'
    summary = finished(run(30, 60, stages=STAGES), code=1, tb=tb)
    text = text_report(summary)
    assert "The script raised an exception (exit code 1): ValueError: bad shape" in text
    assert "Verdict: highly input-bound" in text  # the steps it ran are still reported
    assert json_report(summary)["traceback"] == tb
    assert "exited with code 3" in text_report(finished(run(1, 99), code=3))
    assert "ended by signal 15" in text_report(finished(run(1, 99), code=-15))
    stopped = text_report(finished(run(1, 99), code=130))  # Ctrl+C: no crash, no traceback
    assert "The script was stopped (Ctrl+C, or its window closed) after 50 steps" in stopped
    assert "raised" not in stopped


def test_a_stall_is_reported():
    summary = run(30, 60, stages=STAGES)
    summary.add(InputStalled(9.0, 15.0, "worker localhost:5052 stopped answering"))
    text = text_report(summary)
    assert "The input stalled: no batch for 15 s (worker localhost:5052 stopped answering)" in text


def test_the_last_run_is_compared(tmp_path):
    """Last run 320 examples/s with a serial decode; now parallel and 4x faster."""
    serial = finished(run(30, 60, 5, 5, STAGES))
    history.save(serial, adv.advise(serial), tmp_path)
    stages = tuple(Stage(s.position, s.kind, s.op, s.name, parallelism=8, ms_per_batch=6.0,
                         slowest=True) if s.name == "decode" else s for s in STAGES)
    faster = finished(run(0, 20, 2.5, 2.5, stages))
    comparison = history.exchange(faster, adv.advise(faster), tmp_path)
    text = text_report(faster, comparison, adv.advise(faster))
    assert ("320.0 -> 1,280.0 examples/s (4.00x); input wait 31.6% -> 0.0% of the step "
            "(highly input-bound -> not input-bound)") in text
    assert "Followed: Set `num_parallel_calls=tf.data.AUTOTUNE` on stage 3: map 'decode'" in text
    assert "measured +300%: met" in text
    previous = json_report(faster, comparison)["previous"]
    assert previous["ratio"] == pytest.approx(4.0)
    assert previous["followed"][0]["met"] is True


def test_a_stage_list_that_could_not_be_read_says_why():
    text = text_report(finished(run(30, 60, note="the dataset was not made by tf.data")))
    assert "Pipeline: no stages were read (the dataset was not made by tf.data)." in text

