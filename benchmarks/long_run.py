"""Long run: 20 minutes of training with the window open; memory and step rate over time.

The window runs offscreen, training at full speed on real MNIST. Every 10 s it samples the
process's resident memory (VmRSS) and the trainer's step count. Warm-up is the first
`--warmup-minutes` after the first 100 steps (tracing, caches, plot buffers filling).
Targets: resident memory grows by <= 50 MB after warm-up; the step rate over the last
`--window-minutes` is within 10% of the rate over the first such window after warm-up.

    python benchmarks/long_run.py [--data PATH] [--minutes 20]
"""
from __future__ import annotations

import time
from pathlib import Path

from common import parser_for, write_results
from live_window import run_with_training_window

SAMPLE_S = 10.0


def rss_mb() -> float:
    """Resident memory of this process, from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def rate(samples: list[dict], start_s: float, end_s: float) -> float:
    """Steps per second between the samples nearest to `start_s` and `end_s`."""
    first = min(samples, key=lambda s: abs(s["t"] - start_s))
    last = min(samples, key=lambda s: abs(s["t"] - end_s))
    return (last["step"] - first["step"]) / max(last["t"] - first["t"], 1e-9)


def summarize(samples: list[dict], warmup_s: float, window_s: float) -> dict:
    end = samples[-1]["t"]
    after = [s for s in samples if s["t"] >= warmup_s]
    start_rate = rate(samples, warmup_s, warmup_s + window_s)
    end_rate = rate(samples, end - window_s, end)
    return {"minutes": round(end / 60, 1), "steps": samples[-1]["step"],
            "rss_mb_after_warmup": round(after[0]["rss_mb"], 1),
            "rss_mb_end": round(samples[-1]["rss_mb"], 1),
            "rss_mb_max_after_warmup": round(max(s["rss_mb"] for s in after), 1),
            "rss_growth_mb": round(samples[-1]["rss_mb"] - after[0]["rss_mb"], 1),
            "steps_per_s_start": round(start_rate, 2), "steps_per_s_end": round(end_rate, 2),
            "rate_change": round(end_rate / start_rate - 1, 3)}


def main() -> None:
    parser = parser_for(__doc__, "long_run")
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--warmup-minutes", type=float, default=2.0)
    parser.add_argument("--window-minutes", type=float, default=2.0)
    args = parser.parse_args()
    samples: list[dict] = []

    def on_warm(app, window) -> None:
        from PySide6.QtCore import QTimer

        started = time.monotonic()
        timer = QTimer(window)

        def sample() -> None:
            elapsed = time.monotonic() - started
            samples.append({"t": round(elapsed, 2), "step": window.session.trainer.global_step,
                            "rss_mb": round(rss_mb(), 1)})
            if elapsed >= args.minutes * 60:
                timer.stop()
                window.close()
                app.quit()
        timer.timeout.connect(sample)
        timer.start(int(SAMPLE_S * 1000))
        sample()

    run_with_training_window(args.data, 100, on_warm)
    result = summarize(samples, args.warmup_minutes * 60, args.window_minutes * 60)
    print(f"{'measure':<30} {'value':>9}  target")
    print(f"{'minutes trained (after warm)':<30} {result['minutes']:>9}")
    print(f"{'RSS after warm-up (MB)':<30} {result['rss_mb_after_warmup']:>9}")
    print(f"{'RSS at the end (MB)':<30} {result['rss_mb_end']:>9}")
    print(f"{'RSS growth (MB)':<30} {result['rss_growth_mb']:>9}  <= 50")
    print(f"{'steps/s, first window':<30} {result['steps_per_s_start']:>9}")
    print(f"{'steps/s, last window':<30} {result['steps_per_s_end']:>9}")
    print(f"{'rate change':<30} {result['rate_change']:>+9.1%}  within +-10%")
    write_results(args.out, {**result, "samples": samples})


if __name__ == "__main__":
    main()
