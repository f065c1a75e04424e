"""Run a training script with a wall clock around each of its `model.fit` calls and write
the total to $PIPEVIZ_FIT_TIMES (JSON): the script's own training time, measured the same
way with and without pipeviz watching it.

    python benchmarks/timed_fit.py SCRIPT [ARGS]                  # plain
    pipeviz run --json benchmarks/timed_fit.py SCRIPT [ARGS]      # watched

Under `pipeviz run` the child patches `keras.Model.fit` as keras is imported (the import in
`main`, before the clock is put around it), so the clock here wraps pipeviz's patch:
pipeviz's set-up and stamps are inside the time measured.
"""
from __future__ import annotations

import json
import os
import runpy
import sys
import time


def main() -> None:
    import keras

    script, *args = sys.argv[1:]
    inner = keras.Model.fit
    times: list[float] = []

    def timed_fit(self, *a, **kw):
        started = time.perf_counter()
        try:
            return inner(self, *a, **kw)
        finally:
            times.append(time.perf_counter() - started)

    keras.Model.fit = timed_fit
    sys.argv = [script, *args]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    try:
        runpy.run_path(script, run_name="__main__")
    finally:
        out = os.environ.get("PIPEVIZ_FIT_TIMES")
        if out:
            with open(out, "w") as f:
                json.dump({"fit_s": sum(times), "fits": len(times)}, f)


if __name__ == "__main__":
    main()
