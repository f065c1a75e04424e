"""The last run of each script, kept so the next run of it is measured against it: after
the user changes their pipeline as advised and runs again, the report says what changed
and whether the gain the advice predicted was met.

One small JSON file per script in pipeviz's cache folder (`shards.default_cache_root`:
$PIPEVIZ_CACHE_DIR, else $XDG_CACHE_HOME/pipeviz, else ~/.cache/pipeviz), under
`watch-history/`, named by a hash of the script's absolute path. It is written to a
temporary name (`safeio.temp_name`) and renamed into place, so a reader never sees half a
file. A file that cannot be read, or is not one of ours, is ignored with a log line: the
history is a convenience, and no run may fail because of it.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ..safeio import open_regular, remove_stale, temp_name
from ..shards import default_cache_root
from . import advice as adv
from .summary import RunSummary

log = logging.getLogger(__name__)

FORMAT = "pipeviz-watch-history"
VERSION = 1
FOLDER = "watch-history"
MAX_BYTES = 1 << 20
"""A history file is a few kilobytes; anything far larger is not ours and is not read."""
MET_SHARE = 0.8
"""A measured gain of at least this share of the predicted one meets it: timings of the
same script swing by about ±20% from run to run."""


@dataclass(frozen=True)
class LastRun:
    """What the previous run of a script measured and advised (as stored, plain JSON)."""

    script: str
    when: float
    summary: dict
    advice: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class Followed:
    """A piece of last run's advice that the script now follows, and how it turned out."""

    kind: str
    text: str
    predicted_gain: float | None
    measured_gain: float | None

    @property
    def met(self) -> bool | None:
        if self.predicted_gain is None or self.measured_gain is None:
            return None
        return self.measured_gain >= MET_SHARE * self.predicted_gain

    def to_json(self) -> dict:
        return {"kind": self.kind, "text": self.text, "predicted_gain": _round(self.predicted_gain),
                "measured_gain": _round(self.measured_gain), "met": self.met}


@dataclass(frozen=True)
class Comparison:
    """This run against the last run of the same script."""

    when: float
    examples_per_s_before: float
    examples_per_s_after: float
    input_wait_before: float
    input_wait_after: float
    verdict_before: str
    verdict_after: str
    followed: tuple[Followed, ...] = ()

    @property
    def ratio(self) -> float | None:
        """examples/s after over before; None when the last run trained nothing."""
        before = self.examples_per_s_before
        return self.examples_per_s_after / before if before > 0 else None

    def to_json(self) -> dict:
        return {"when": self.when, "examples_per_s_before": round(self.examples_per_s_before, 2),
                "examples_per_s_after": round(self.examples_per_s_after, 2),
                "ratio": _round(self.ratio),
                "input_wait_fraction_before": round(self.input_wait_before, 4),
                "input_wait_fraction_after": round(self.input_wait_after, 4),
                "verdict_before": self.verdict_before, "verdict_after": self.verdict_after,
                "followed": [f.to_json() for f in self.followed]}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def history_dir(root: Path | None = None) -> Path:
    return (Path(root) if root else default_cache_root()) / FOLDER


def history_path(script: str, root: Path | None = None) -> Path:
    """The file for `script`, keyed by its absolute path (two scripts named train.py in
    different folders keep separate histories)."""
    key = hashlib.sha256(os.path.abspath(script).encode("utf-8", "surrogateescape"))
    return history_dir(root) / f"{key.hexdigest()[:24]}.json"


def load(script: str, root: Path | None = None) -> LastRun | None:
    """The last run of `script`, or None: none yet, or a file that cannot be used (logged)."""
    path = history_path(script, root)
    try:
        with open_regular(path) as f:
            raw = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("ignoring the last run's record %s: %s", path, exc.strerror or exc)
        return None
    try:
        return _parse(raw, os.path.abspath(script))
    except (ValueError, TypeError, KeyError, RecursionError) as exc:
        log.warning("ignoring the last run's record %s: %s", path, exc)
        return None


def _parse(raw: bytes, script: str) -> LastRun:
    """Raises ValueError (or TypeError, KeyError) for anything but our own record of `script`."""
    if len(raw) > MAX_BYTES:
        raise ValueError(f"larger than {MAX_BYTES} bytes")
    if not raw.strip():
        raise ValueError("empty file")
    doc = json.loads(raw.decode("utf-8"))
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError("not a pipeviz run record")
    if doc.get("version") != VERSION:
        raise ValueError(f"record version {doc.get('version')!r}, this pipeviz reads {VERSION}")
    if doc.get("script") != script:
        raise ValueError(f"a record of {doc.get('script')!r}, not of {script}")
    summary, advice = doc["summary"], doc["advice"]
    if not isinstance(summary, dict) or not isinstance(advice, list) or not all(
            isinstance(a, dict) for a in advice):
        raise ValueError("summary or advice of the wrong shape")
    for key in ("examples_per_s", "input_wait_fraction"):
        float(summary[key])
    if not isinstance(summary.get("stages", []), list):
        raise ValueError("stages of the wrong shape")
    return LastRun(script, float(doc["when"]), summary, advice)


def save(summary: RunSummary, advice: Sequence[adv.RunAdvice], root: Path | None = None,
         when: float | None = None) -> Path | None:
    """Record this run as the last run of its script; the path, or None if it could not be
    written (logged, never raised). Only runs that trained are recorded: a run that failed
    before training would otherwise replace the one to compare with."""
    if not summary.script or not summary.steps:
        return None
    path = history_path(summary.script, root)
    doc = {"format": FORMAT, "version": VERSION, "script": os.path.abspath(summary.script),
           "when": time.time() if when is None else when, "summary": summary.to_json(),
           "advice": [a.to_json() for a in advice]}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(path.parent, path.stem, ".json")
        _write(path, json.dumps(doc).encode("utf-8"))
    except OSError as exc:
        log.warning("could not record this run for the next comparison (%s): %s", path,
                    exc.strerror or exc)
        return None
    return path


def _write(path: Path, data: bytes) -> None:
    """Write to a temporary name beside `path`, then rename it into place."""
    tmp = path.parent / temp_name(path.stem, ".json")
    try:
        with open(tmp, "xb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def exchange(summary: RunSummary, advice: Sequence[adv.RunAdvice],
             root: Path | None = None) -> Comparison | None:
    """What the CLI calls when a run ends: the comparison with the last run (None if there
    is none, or this run trained nothing), and this run recorded in its place."""
    previous = load(summary.script, root) if summary.script and summary.steps else None
    comparison = compare(previous, summary) if previous is not None else None
    save(summary, advice, root)
    return comparison


def compare(previous: LastRun, summary: RunSummary) -> Comparison:
    """This run against `previous`, and which of its advice the script now follows."""
    stats = summary.stats
    before = float(previous.summary["examples_per_s"])
    after = stats.images_per_s
    measured = after / before - 1 if before > 0 and summary.steps else None
    old_stages = _stage_dicts(previous.summary)
    followed = tuple(Followed(str(a.get("kind", "")), str(a.get("text", "")),
                              _number(a.get("predicted_gain")), measured)
                     for a in previous.advice if _is_followed(a, old_stages, summary))
    return Comparison(previous.when, before, after, float(previous.summary["input_wait_fraction"]),
                      stats.step_wait_fraction, str(previous.summary.get("verdict", "")),
                      summary.verdict, followed)


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _stage_dicts(summary: dict) -> list[dict]:
    return [s for s in summary.get("stages", []) if isinstance(s, dict)]


def _is_followed(advice: dict, old_stages: list[dict], summary: RunSummary) -> bool:
    """Whether the change `advice` asked for shows in this run's stages. A stage is found
    again by its name, else as the same kind at the same rank among that kind (the 2nd map
    stays the 2nd map when the user adds a cache or a prefetch)."""
    stages = sorted(summary.stages, key=lambda s: s.position)
    kind = advice.get("kind")
    if kind == adv.PREFETCH:
        return bool(stages) and stages[-1].kind == "prefetch"
    if kind == adv.CACHE:
        return any(s.kind == "cache" for s in stages)
    old = next((s for s in old_stages if s.get("position") == advice.get("stage")), None)
    now = _same_stage(old, old_stages, stages) if old else None
    if now is None:
        return False
    if kind == adv.PARALLEL:  # it was serial (a map fused with its batch reads 1): now not
        return now.autotuned or (now.parallelism or 1) > 1
    if kind == adv.SERVICE:
        return (now.workers or 0) > (_number(old.get("workers")) or 0)
    return False


def _same_stage(old: dict, old_stages: list[dict], stages: list):
    if old.get("name"):
        return next((s for s in stages if s.name == old["name"]), None)
    same_kind = [s for s in old_stages if s.get("kind") == old.get("kind")]
    rank = next(i for i, s in enumerate(same_kind) if s is old)
    now = [s for s in stages if s.kind == old.get("kind")]
    return now[rank] if rank < len(now) else None
