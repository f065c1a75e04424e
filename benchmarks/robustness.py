"""Robustness (issue 12): bad files, settings and faults, applied from outside through the
CLI, the settings file, the cache folder and the core API; each case prints what was expected
and what was observed.

Every case runs pipeviz in a fresh process with its own scratch HOME (settings, caches, runs
folder, Keras cache), so nothing here touches the user's files. A case passes when the
process ends in time with the expected exit code, prints no traceback, and leaves the files
as expected. `--pythonpath` runs another checkout (a folder holding a `pipeviz` package, e.g.
an unfixed one, to see each case fail before the fix).

    python benchmarks/robustness.py [--data PATH] [--pythonpath DIR] [--only NAME,...]
"""
from __future__ import annotations

import gzip
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from common import parser_for, write_results

IMAGES_MAGIC, LABELS_MAGIC = 0x803, 0x801
BENCH = ["bench", "--steps", "10", "--warmup", "3", "--configs", "naive"]


def bench(data: str | Path) -> list[str]:
    return [*BENCH, "--data", str(data)]


@dataclass
class Outcome:
    case: str
    family: int
    expected: str
    observed: str
    ok: bool
    seconds: float


@dataclass
class Run:
    rc: int | None  # None: killed after the timeout (a hang)
    stderr: str
    seconds: float
    max_rss_mb: float

    @property
    def traceback(self) -> bool:
        return "Traceback" in self.stderr

    def errors(self) -> list[str]:
        """stderr lines that are not log lines of level INFO/WARNING or TensorFlow's noise."""
        return [line for line in self.stderr.splitlines() if line.strip() and not line.startswith(
            ("INFO ", "WARNING ", "WARNING:", "I0000", "E0000", "W0000", "This plugin"))]

    def describe(self) -> str:
        if self.rc is None:
            return f"hung (killed after {self.seconds:.0f} s)"
        tail = self.errors()[-1][:110] if self.errors() else ""
        text = f"exit {self.rc} in {self.seconds:.1f} s"
        if self.rc < 0:
            text = f"killed by signal {-self.rc} after {self.seconds:.1f} s"
        if self.traceback:
            text += ", traceback"
        return text + (f": {tail}" if tail else "")


class Lab:
    """Scratch homes, the data, and running pipeviz in a fresh process."""

    def __init__(self, data: str, pythonpath: str | None, root: Path):
        self.data, self.root = data, root
        self.pythonpath = pythonpath
        self._n = 0

    def home(self) -> Path:
        self._n += 1
        home = self.root / f"home{self._n}"
        home.mkdir()
        return home

    def env(self, home: Path, **extra: str) -> dict[str, str]:
        env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
               "XDG_CACHE_HOME": str(home / ".cache"), "PIPEVIZ_CACHE_DIR": str(home / "cache"),
               "PIPEVIZ_RUNS_DIR": str(home / "runs"), "KERAS_HOME": str(home / ".keras"),
               "PIPEVIZ_OFFLINE": "1", "QT_QPA_PLATFORM": "offscreen", "TF_CPP_MIN_LOG_LEVEL": "2"}
        if self.pythonpath:
            env["PYTHONPATH"] = self.pythonpath
        env.update(extra)
        return env

    def run(self, args: list[str], env: dict[str, str], timeout: float = 120,
            interrupt_after: float | None = None, code: str | None = None) -> Run:
        """`python -m pipeviz ARGS` (or `python -c CODE`); its exit code, stderr, wall time
        and peak memory (killed, with rc None, after `timeout`)."""
        command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "pipeviz", *args]
        with tempfile.TemporaryFile("w+") as err:
            started = time.monotonic()
            proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=err,
                                    start_new_session=True, cwd=self.root)
            if interrupt_after is not None:
                time.sleep(interrupt_after)
                proc.send_signal(signal.SIGINT)
            rc, rss = None, 0.0
            while time.monotonic() - started < timeout:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    rc = os.waitstatus_to_exitcode(status)
                    rss = usage.ru_maxrss / 1024
                    break
                time.sleep(0.05)
            if rc is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            proc.returncode = rc
            seconds = time.monotonic() - started
            err.seek(0)
            return Run(rc, err.read(), seconds, rss)


# ----- data makers ----------------------------------------------------------------------
def write_npz(path: Path, n: int, labels=None) -> Path:
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
             y_train=np.arange(n) % 10 if labels is None else labels)
    return path


def gzip_bomb_folder(folder: Path, expanded_mb: int) -> Path:
    """t10k IDX files whose images file promises 10,000 images (7.8 MB) but expands to
    `expanded_mb` MB."""
    folder.mkdir()
    with gzip.open(folder / "t10k-images-idx3-ubyte.gz", "wb", compresslevel=9) as out:
        out.write(struct.pack(">IIII", IMAGES_MAGIC, 10_000, 28, 28))
        block = bytes(1 << 20)
        for _ in range(expanded_mb):
            out.write(block)
    labels = struct.pack(">II", LABELS_MAGIC, 10_000) + bytes(np.arange(10_000) % 10)
    (folder / "t10k-labels-idx1-ubyte").write_bytes(labels)
    return folder


def npz_bomb(path: Path, images: int) -> Path:
    """x_train of `images` zero images (compressed to ~1/1000) with 5 labels."""
    np.savez_compressed(path, x_train=np.zeros((images, 28, 28), np.uint8),
                        y_train=np.zeros(5, np.uint8))
    return path


def settings_file(home: Path, text: str) -> None:
    folder = home / ".config" / "pipeviz"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pipeviz.conf").write_text(text)


def shard_folder(home: Path) -> Path:
    return next((home / "cache").glob("mnist-*shards"))


def can_mount() -> bool:
    if os.geteuid() != 0:
        return False
    probe = Path(tempfile.mkdtemp())
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(probe)],
                        capture_output=True).returncode == 0
    if ok:
        subprocess.run(["umount", "-l", str(probe)])
    return ok


# ----- the cases --------------------------------------------------------------------------
CASES: list[tuple[str, int, str, Callable[[Lab], tuple[bool, str]]]] = []


def case(name: str, family: int, expected: str):
    def register(fn):
        CASES.append((name, family, expected, fn))
        return fn
    return register


def clean_exit(run: Run, rc: int) -> bool:
    return run.rc == rc and not run.traceback


def one_line(run: Run) -> bool:
    return run.rc == 2 and not run.traceback and len(run.errors()) == 1


def screenshot_run(lab: Lab, home: Path, seconds: float = 4) -> tuple[Run, Path]:
    shot = home / "shot.png"
    run = lab.run(["--data", lab.data, "--screenshot", str(shot), "--train-seconds", str(seconds)],
                  lab.env(home), timeout=240)
    return run, shot


for _name, _line in (("settings shuffle_buffer=2000000000", "shuffle_buffer=2000000000"),
                     ("settings parallel_reads=100000", "parallel_reads=100000"),
                     ("settings cache=perhaps", "cache=perhaps")):
    def _settings_case(lab: Lab, line=_line) -> tuple[bool, str]:
        home = lab.home()
        settings_file(home, f"[pipeline]\n{line}\n")
        run, shot = screenshot_run(lab, home)
        warned = "ignoring saved setting" in run.stderr
        ok = clean_exit(run, 0) and shot.is_file() and warned
        return ok, run.describe() + ("; trained, screenshot saved" if shot.is_file() else "") + (
            "; warned, default used" if warned else "; no warning: the value was used")
    case(_name, 1, "warning, default used, trains (screenshot run exits 0)")(_settings_case)


@case("settings geometry=x", 2, "warning, the window opens and trains")
def _geometry(lab: Lab) -> tuple[bool, str]:
    home = lab.home()
    settings_file(home, "[General]\ngeometry=x\nwrite_scalars=maybe\n")
    run, shot = screenshot_run(lab, home, 2)
    ok = clean_exit(run, 0) and shot.is_file()
    return ok, run.describe() + ("; screenshot saved" if shot.is_file() else "")


def _damaged_cache(lab: Lab, damage: Callable[[Path], None]) -> tuple[bool, str]:
    home = lab.home()
    env = lab.env(home)
    first = lab.run(bench(lab.data), env)
    if first.rc != 0:
        return False, "first run failed: " + first.describe()
    damage(shard_folder(home))
    again = lab.run(bench(lab.data), env)
    notices = [line for line in again.stderr.splitlines() if "rebuild" in line]
    ok = clean_exit(again, 0) and len(notices) == 1
    return ok, again.describe() + (f"; notice: {notices[0][:80]}" if notices else "; no notice")


def _flip(folder: Path) -> None:
    shard = sorted(folder.glob("train-*.tfrecord"))[3]
    data = bytearray(shard.read_bytes())
    for i in range(1000, len(data), 4096):
        data[i] ^= 0xFF
    shard.write_bytes(bytes(data))


def _manifest(text: str) -> Callable[[Path], None]:
    return lambda folder: (folder / "manifest.json").write_text(text)


def _wrong_count(folder: Path) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["train_count"] += 5
    (folder / "manifest.json").write_text(json.dumps(manifest))


case("cache: bytes flipped in a shard (same size)", 3, "one-line notice, rebuilt, exit 0")(
    lambda lab: _damaged_cache(lab, _flip))
case("cache: manifest is []", 3, "one-line notice, rebuilt, exit 0")(
    lambda lab: _damaged_cache(lab, _manifest("[]")))
case("cache: manifest is null", 3, "one-line notice, rebuilt, exit 0")(
    lambda lab: _damaged_cache(lab, _manifest("null")))
case("cache: manifest with a wrong count", 3, "one-line notice, rebuilt, exit 0")(
    lambda lab: _damaged_cache(lab, _wrong_count))


@case("cache: kill -9 while writing shards, run again", 7, "the dead run's temporary folder removed")
def _killed_writer(lab: Lab) -> tuple[bool, str]:
    home = lab.home()
    env = lab.env(home)
    proc = subprocess.Popen([sys.executable, "-m", "pipeviz", *bench(lab.data)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=lab.root)
    deadline = time.monotonic() + 120
    temps: list[Path] = []
    while time.monotonic() < deadline and not temps and proc.poll() is None:
        temps = [p for p in (home / "cache").glob(".*tmp*") if any(p.glob("*.tfrecord"))]
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    if not temps:
        return False, "could not catch the shard writer mid-way"
    again = lab.run(bench(lab.data), env)
    left = [p.name for p in (home / "cache").glob(".*tmp*")]
    return clean_exit(again, 0) and not left, again.describe() + (
        f"; left behind: {len(left)} temporary folder(s)" if left else "; none left behind")


SAVE_LOOP = """
import sys
from pipeviz.core.model import build_model, save_model
model = build_model()
for _ in range(int(sys.argv[2])):
    save_model(model, sys.argv[1])
"""


@case("kill -9 while saving a .keras model, save again (core API)", 7,
      "the killed save's temporary removed")
def _killed_save(lab: Lab) -> tuple[bool, str]:
    home = lab.home()
    target = home / "models" / "m.keras"
    target.parent.mkdir()
    command = [sys.executable, "-c", SAVE_LOOP]
    proc = subprocess.Popen([*command, str(target), "1000"], env=lab.env(home),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=lab.root)
    deadline, temps = time.monotonic() + 120, []
    while time.monotonic() < deadline and not temps and proc.poll() is None:
        temps = [p for p in target.parent.glob(".m*.keras") if p.stat().st_size > 0]
        time.sleep(0.005)
    proc.kill()
    proc.wait()
    left_by_kill = list(target.parent.glob(".m*.keras"))
    if not left_by_kill:
        return False, "could not catch a save mid-way"
    again = subprocess.run([*command, str(target), "1"], env=lab.env(home), capture_output=True,
                           text=True, timeout=240)
    left = list(target.parent.glob(".m*.keras"))
    ok = again.returncode == 0 and not left and target.is_file()
    return ok, (f"{len(left_by_kill)} temporary left by the kill; after the next save "
                f"{len(left)} left" + ("" if again.returncode == 0 else f", save exit {again.returncode}"))


FULL_DISK = """
import sys
from pipeviz.core.datasets import find_data
from pipeviz.core.shards import prepare_shards
from pipeviz.core.config import PipelineConfig, TrainerConfig
from pipeviz.core.trainer import Trainer
shards = prepare_shards(find_data(sys.argv[1]), None)
config = TrainerConfig(epochs=2, max_steps=300, summary_dir=sys.argv[2], summary_every=1)
trainer = Trainer(shards, PipelineConfig(), config)
trainer.start()
trainer.join()
print("STATE", trainer.state, trainer.global_step, file=sys.stderr)
"""


def _full_disk(lab: Lab, size_kb: int, filler_kb: int) -> tuple[bool, str]:
    """Train 300 steps writing scalars every step to a tmpfs of `size_kb`, `filler_kb` of it
    taken before the run starts."""
    if not can_mount():
        return False, "not run: needs root to mount a small tmpfs"
    home = lab.home()
    mount = home / "full"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(mount)], check=True)
    try:
        if filler_kb:
            (mount / "filler").write_bytes(b"x" * (filler_kb << 10))
        code = f"import sys; sys.argv[1:] = [{lab.data!r}, {str(mount / 'run')!r}]\n" + FULL_DISK
        run = lab.run([], lab.env(home), code=code, timeout=240)
        written = sum(p.stat().st_size for p in (mount / "run").glob("*")) if (mount / "run").exists() else 0
    finally:
        subprocess.run(["umount", "-l", str(mount)])
    state = next((line for line in run.stderr.splitlines() if line.startswith("STATE")), "no state")
    ok = run.rc == 0 and state == "STATE stopped 300" and "turned off" in run.stderr
    return ok, f"{state[6:] or state}, {written // 1024} KiB of scalars written, " + run.describe()


case("runs folder on a full disk from step 0 (core API)", 4,
     "scalars turned off with a warning, all 300 steps trained")(lambda lab: _full_disk(lab, 64, 64))
case("runs folder filling up mid-run (core API)", 4,
     "scalars turned off with a warning, all 300 steps trained")(lambda lab: _full_disk(lab, 12, 0))


for _name, _family, _count, _labels in (
        ("npz with 0 images", 5, 0, None), ("npz with 10 images, batch 32", 5, 10, None),
        ("npz with float labels (2.5)", 8, 100, np.array([2.5] * 100)),
        ("npz with NaN labels", 8, 100, np.array([np.nan] + [1.0] * 99))):
    def _npz_case(lab: Lab, count=_count, labels=_labels) -> tuple[bool, str]:
        home = lab.home()
        npz = write_npz(home / "data.npz", count, labels)
        run = lab.run(bench(str(npz)), lab.env(home), timeout=60)
        return one_line(run), run.describe()
    case(f"{_name} (bench)", _family, "one-line error, exit 2, at once")(_npz_case)


@case("gzip IDX of 1 MB expanding to 1 GB (bench)", 6, "one-line error, exit 2, peak < 600 MB")
def _gzip_bomb(lab: Lab) -> tuple[bool, str]:
    home = lab.home()
    folder = gzip_bomb_folder(home / "bomb", 1024)
    run = lab.run(bench(str(folder)), lab.env(home), timeout=120)
    size = (folder / "t10k-images-idx3-ubyte.gz").stat().st_size / 2**20
    return one_line(run) and run.max_rss_mb < 600, (
        f"{size:.1f} MB file: {run.describe()}, peak {run.max_rss_mb:.0f} MB")


@case("npz of 1 MB expanding to 1 GB (bench)", 6, "one-line error, exit 2, peak < 600 MB")
def _npz_bomb(lab: Lab) -> tuple[bool, str]:
    home = lab.home()
    npz = npz_bomb(home / "bomb.npz", 1_300_000)
    run = lab.run(bench(str(npz)), lab.env(home), timeout=120)
    size = npz.stat().st_size / 2**20
    return one_line(run) and run.max_rss_mb < 600, (
        f"{size:.1f} MB file: {run.describe()}, peak {run.max_rss_mb:.0f} MB")


@case("a FIFO named data.npz (bench)", 6, "one-line error, exit 2, at once")
def _fifo(lab: Lab) -> tuple[bool, str]:
    home = lab.home()
    fifo = home / "data.npz"
    os.mkfifo(fifo)
    run = lab.run(bench(str(fifo)), lab.env(home), timeout=30)
    return one_line(run), run.describe()


for _name, _argv in (("--steps 10^20", ["--steps", str(10**20)]), ("--warmup -5", ["--warmup", "-5"]),
                     ("--data with a 5,000-character path", ["--data", "/tmp/" + "a" * 5000])):
    def _cli_case(lab: Lab, argv=_argv) -> tuple[bool, str]:
        home = lab.home()
        args = ["bench", "--data", lab.data, "--configs", "naive", *argv]
        run = lab.run(args, lab.env(home), timeout=120)
        return one_line(run), run.describe()
    case(f"bench {_name}", 8, "one-line error, exit 2")(_cli_case)


@case("bench with the cache path blocked by a file", 8, "one-line error, exit 2")
def _blocked(lab: Lab) -> tuple[bool, str]:
    home = lab.home()
    (home / "blocked").write_text("a file")
    run = lab.run(bench(lab.data), lab.env(home, PIPEVIZ_CACHE_DIR=str(home / "blocked" / "c")))
    return one_line(run), run.describe()


@case("string labels in the Keras cache (bench, no --data)", 8, "that source skipped, exit 0")
def _keras_strings(lab: Lab) -> tuple[bool, str]:
    home = lab.home()
    (home / ".keras" / "datasets").mkdir(parents=True)
    write_npz(home / ".keras" / "datasets" / "mnist.npz", 100, np.array(["1"] * 100))
    run = lab.run(BENCH, lab.env(home), timeout=240)
    skipped = "ignoring the Keras MNIST cache" in run.stderr
    return clean_exit(run, 0) and skipped, run.describe() + ("; skipped it" if skipped else "")


@case("--screenshot into a missing folder", 8, "one-line error, exit 2")
def _shot_missing(lab: Lab) -> tuple[bool, str]:
    home = lab.home()
    run = lab.run(["--data", lab.data, "--screenshot", str(home / "missing" / "s.png"),
                   "--train-seconds", "1"], lab.env(home), timeout=240)
    return one_line(run), run.describe()


@case("window with a bad --data", 8, "one ERROR line, no traceback")
def _bad_data_window(lab: Lab) -> tuple[bool, str]:
    home = lab.home()
    run = lab.run(["--data", str(home / "nope.npz"), "--startup-report", str(home / "r.json")],
                  lab.env(home), timeout=240)
    errors = [line for line in run.stderr.splitlines() if line.startswith("ERROR")]
    ok = run.rc is not None and not run.traceback and len(errors) == 1
    return ok, f"{run.describe()}; {len(errors)} ERROR line(s)"


@case("Ctrl+C at 0.2, 0.5 and 1.0 s after launch", 8, "no traceback, ends at once")
def _ctrl_c(lab: Lab) -> tuple[bool, str]:
    home = lab.home()
    runs = [lab.run(["--data", lab.data], lab.env(home), timeout=60, interrupt_after=delay)
            for delay in (0.2, 0.5, 1.0)]
    bad = [r for r in runs if r.traceback or r.rc is None]
    return not bad, "; ".join(f"exit {r.rc}{' traceback' if r.traceback else ''}" for r in runs)


STORM = """
import sys, time
from pipeviz.core.datasets import find_data
from pipeviz.core.shards import prepare_shards
from pipeviz.core.config import PipelineConfig, TrainerConfig
from pipeviz.core.events import EventChannel, ConfigApplied
from pipeviz.core.trainer import Trainer
shards = prepare_shards(find_data(sys.argv[1]), None)
channel = EventChannel(reliable_capacity=256)  # nothing drains it: a frozen GUI thread
trainer = Trainer(shards, PipelineConfig(), TrainerConfig(epochs=1000), channel)
trainer.start()
while trainer.global_step < 5:
    time.sleep(0.05)
effective = 0
for i in range(600):  # each one applied before the next
    new = trainer.reconfigure(prefetch=i % 5 + 1)
    deadline = time.monotonic() + 2
    while trainer.pipeline_config != new and time.monotonic() < deadline:
        time.sleep(0.002)
    effective += trainer.pipeline_config == new
trainer.stop()
trainer.join()
applied = sum(isinstance(e, ConfigApplied) for e in channel.drain())
print("DROPPED", channel.dropped, "EFFECTIVE", effective, "EVENTS", applied, file=sys.stderr)
"""


@case("600 live reconfigurations, nothing drained, lane of 256 (core API)", 9,
      "no event dropped from the reliable lane")
def _storm(lab: Lab) -> tuple[bool, str]:
    home = lab.home()
    code = f"import sys; sys.argv[1:] = [{lab.data!r}]\n" + STORM
    run = lab.run([], lab.env(home), code=code, timeout=400)
    line = next((x for x in run.stderr.splitlines() if x.startswith("DROPPED")), "")
    words = line.split()
    ok = run.rc == 0 and len(words) == 6 and words[1] == "0" and int(words[3]) > 256
    if not line:
        return False, run.describe()
    return ok, (f"{words[3]} reconfigurations took effect, {words[1]} events dropped, "
                f"{words[5]} ConfigApplied waiting in the lane")


def main() -> None:
    parser = parser_for(__doc__, "robustness")
    parser.add_argument("--pythonpath", help="run the pipeviz found here (default: as imported)")
    parser.add_argument("--only", help="comma-separated substrings of case names")
    args = parser.parse_args()
    env = {**os.environ, **({"PYTHONPATH": args.pythonpath} if args.pythonpath else {})}
    where = subprocess.run([sys.executable, "-c", "import pipeviz; print(pipeviz.__file__)"],
                           env=env, capture_output=True, text=True).stdout.strip()
    commit = subprocess.run(["git", "-C", str(Path(where).parent), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    print(f"pipeviz under test: {where} ({commit or 'no git'})")
    wanted = [w.strip() for w in args.only.split(",")] if args.only else None
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="pipeviz-robust-") as tmp:
        lab = Lab(args.data, args.pythonpath, Path(tmp))
        for name, family, expected, fn in CASES:
            if wanted and not any(w in name for w in wanted):
                continue
            started = time.monotonic()
            try:
                ok, observed = fn(lab)
            except Exception as exc:  # a case that cannot even be set up is a failed case
                ok, observed = False, f"case failed to run: {exc!r}"
            outcome = Outcome(name, family, expected, observed, ok, round(time.monotonic() - started, 1))
            outcomes.append(outcome)
            print(f"{'ok  ' if ok else 'FAIL'} [{family}] {name}: {observed}", flush=True)
    print()
    print("| # | case | expected | observed | |")
    print("|---|---|---|---|---|")
    for o in outcomes:
        print(f"| {o.family} | {o.case} | {o.expected} | {o.observed} | {'ok' if o.ok else 'FAIL'} |")
    passed = sum(o.ok for o in outcomes)
    print(f"\n{passed} of {len(outcomes)} cases passed")
    write_results(args.out, {"pipeviz": where, "commit": commit, "passed": passed,
                             "total": len(outcomes), "cases": [asdict(o) for o in outcomes]})


if __name__ == "__main__":
    main()
