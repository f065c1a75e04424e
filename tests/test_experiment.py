"""The experiment sweep: every config measured on the same model, data and step count."""
from statistics import median


from conftest import wait_until
from pipeviz.core.config import PipelineConfig
from pipeviz.core.events import EventChannel, SweepProgress
from pipeviz.core.experiment import SWEEP_NAMES, Sweep, SweepConfigDone, SweepFinished, SweepPlan


def run_sweep(shards, plan, loop=None):
    channel = EventChannel(lossy_capacity=100_000)
    sweep = Sweep(shards, plan, channel, loop=loop)
    sweep.start()
    return sweep, channel


def test_sweep_measures_every_config_and_naive_is_slowest_when_balanced(small_shards, step_loop,
                                                                       sweep_loop, tmp_path):
    from pipeviz.core.bench import measure_balance
    from pipeviz.core.tboard import read_scalars

    latency = measure_balance(small_shards, 32, steps=60, loop=step_loop).latency_ms
    # a small shuffle buffer, so each batch of the small data set pulls fresh reads
    base = PipelineConfig(storage_latency_ms=latency, prefetch=2, parallel_reads=2, shuffle_buffer=64)
    plan = SweepPlan(steps=30, warmup=6, base=base,
                     summary_root=str(tmp_path))
    sweep, channel = run_sweep(small_shards, plan, loop=sweep_loop)
    assert sweep.join(300), "the sweep did not finish"
    assert sweep.loop is sweep_loop and sweep_loop.traces == 1, "one trace for every config"
    events = channel.drain()
    finished = [e for e in events if isinstance(e, SweepFinished)]
    assert len(finished) == 1 and not finished[0].cancelled and not finished[0].error
    runs = finished[0].runs
    assert [r.name for r in runs] == list(SWEEP_NAMES)
    assert [e.run.name for e in events if isinstance(e, SweepConfigDone)] == list(SWEEP_NAMES)
    assert any(isinstance(e, SweepProgress) for e in events)
    for run in runs:
        assert run.result.steps == 30 and len(run.steps) == 30
        assert run.result.images_per_s > 0
        # the timeline data are the real stamps of the measured steps, in order
        assert [s.step for s in run.steps] == list(range(run.steps[0].step, run.steps[0].step + 30))
        for s in run.steps:
            assert s.read_start <= s.t_loaded <= s.t_normalized <= s.t_enqueued <= s.t_taken <= s.t_trained
    # "same steps": every config (cache or not) is measured over the same steps of training
    assert len({(r.steps[0].step, r.steps[-1].step) for r in runs}) == 1, \
        {r.name: (r.steps[0].step, r.steps[-1].step) for r in runs}
    by_name = {r.name: r.result for r in runs}
    assert by_name["custom"].description == plan.base.describe()
    # by the median step (one stall of this shared machine moves a 30-step mean by 30 ms),
    # against the config that differs from naive by prefetch alone: the configs with parallel
    # maps compete with the train step for this machine's 2 cores, prefetch does not
    typical = {r.name: median(s.wall_s for s in r.steps) for r in runs}
    assert typical["naive"] > typical["prefetch"], typical
    # typical steps (medians: this shared machine stalls now and then) wait less with prefetch
    waits = {r.name: median(s.input_wait_s for s in r.steps) for r in runs}
    assert waits["prefetch"] < waits["naive"], waits
    scalars = read_scalars(tmp_path / "naive")
    assert scalars["loss"] and scalars["images_per_s"][-1][0] == sweep.runs[0].steps[-1].step


def test_cancel_ends_the_sweep_quickly(small_shards):
    plan = SweepPlan(names=("naive", "prefetch"), steps=100_000, warmup=4,
                     base=PipelineConfig(storage_latency_ms=1))
    sweep, channel = run_sweep(small_shards, plan)
    assert wait_until(lambda: sweep._trainer is not None and sweep._trainer.global_step > 4, 60)
    sweep.cancel()
    assert sweep.join(3), "cancel did not end the sweep within 3 s"
    finished = [e for e in channel.drain() if isinstance(e, SweepFinished)]
    assert len(finished) == 1 and finished[0].cancelled and finished[0].runs == ()
    assert sweep.loop is not None and sweep.loop.traces == 1, "given no loop, it made one"
