"""The example scripts `pipeviz run` is shown on (examples/) and the outside-user scripts the
Done-when checks run (benchmarks/scripts/): each runs to the end with tiny options as plain
`python script.py`, and none imports pipeviz (they stand for users' own scripts)."""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# every example and outside script, those added later included
USERS_SCRIPTS = sorted((ROOT / "examples").glob("*.py")) + sorted(
    (ROOT / "benchmarks" / "scripts").glob("*.py"))


def _imported_modules(path: Path) -> set[str]:
    """Every module a file imports, anywhere in it (top level or inside a function)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _run(script: Path, *args: str, tmp: Path | None = None) -> subprocess.CompletedProcess:
    """`python script args` from the project root, as a user runs it (without the test run's
    PYTHONPATH; whether pipeviz is installed is the import test's concern, not this one's),
    its temporary files in `tmp` when given."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("PYTHONPATH", None)
    if tmp is not None:
        env["TMPDIR"] = str(tmp)
    return subprocess.run([sys.executable, str(script), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_scripts_are_all_there():
    names = {p.name for p in USERS_SCRIPTS}
    assert {"images_on_disk.py", "text_pipeline.py", "compute_bound.py", "sleepy_map.py",
            "in_memory_heavy.py", "input_truth.py"} <= names


@pytest.mark.parametrize("path", USERS_SCRIPTS, ids=lambda p: p.name)
def test_script_never_imports_pipeviz(path):
    imported = _imported_modules(path)
    assert "tensorflow" in imported
    assert not {m for m in imported if m.split(".")[0] == "pipeviz"}
    text = path.read_text()
    assert "import pipeviz" not in text and "from pipeviz" not in text


def test_import_check_sees_an_import_inside_a_function(tmp_path):
    script = tmp_path / "s.py"
    script.write_text("def f():\n    from pipeviz.core import watch\n")
    assert "pipeviz.core" in _imported_modules(script)


@pytest.mark.parametrize("name, args", [
    ("images_on_disk.py", ("--num-images", "96", "--epochs", "1", "--steps-per-epoch", "3")),
    ("text_pipeline.py", ("--num-sentences", "400", "--epochs", "1", "--steps-per-epoch", "3")),
    ("text_pipeline.py", ("--num-sentences", "400", "--epochs", "1", "--steps-per-epoch", "3",
                          "--fixed")),
    ("compute_bound.py", ("--num-images", "128", "--epochs", "1", "--steps-per-epoch", "2")),
])
def test_example_trains_to_the_end_and_removes_its_temporary_data(name, args, tmp_path):
    done = _run(ROOT / "examples" / name, *args, "--seed", "3", tmp=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    steps = args[args.index("--steps-per-epoch") + 1]
    assert f"{steps}/{steps} - " in done.stdout  # Keras's line for the epoch's last step
    assert "trained in" in done.stdout
    assert list(tmp_path.iterdir()) == []  # what it wrote in TMPDIR is gone


def test_example_keeps_its_data_dir_and_reuses_it(tmp_path):
    """--data-dir: the images stay after the run, and a second run (with the fix applied:
    parallel maps, cache, prefetch) reads them and writes none again."""
    folder = tmp_path / "images"
    args = ("--data-dir", str(folder), "--num-images", "40", "--epochs", "1",
            "--steps-per-epoch", "1", "--batch-size", "8")
    assert _run(ROOT / "examples" / "images_on_disk.py", *args).returncode == 0
    files = sorted(folder.rglob("*.jpg"))
    assert len(files) == 40
    stamps = [f.stat().st_mtime_ns for f in files]
    again = _run(ROOT / "examples" / "images_on_disk.py", *args, "--fixed")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "1/1 - " in again.stdout
    assert [f.stat().st_mtime_ns for f in sorted(folder.rglob("*.jpg"))] == stamps


def test_sleepy_map_truth_is_highly_input_bound():
    """--truth's last line is JSON; a map sleeping 2 ms a example (64 ms a batch) against a
    step of a few ms is nearly all input wait."""
    done = _run(ROOT / "benchmarks" / "scripts" / "sleepy_map.py", "--sleep-ms", "2",
                "--epochs", "1", "--steps-per-epoch", "8", "--truth")
    assert done.returncode == 0, done.stderr[-3000:]
    truth = json.loads(done.stdout.strip().splitlines()[-1])
    assert truth["input_wait_share"] > 0.8
    assert truth["step_ms_pipeline"] >= 0.9 * truth["sleep_ms_per_batch"]
    # the headline is the median of the rounds' paired shares
    assert truth["steps"] == 8 and len(truth["pipeline_ms"]) == truth["rounds"] == 7
    shares = sorted(1 - m / p for p, m in zip(truth["pipeline_ms"], truth["in_memory_ms"]))
    assert truth["input_wait_share"] == pytest.approx(shares[3], abs=2e-3)
    assert truth["share_low_high"] == pytest.approx([shares[0], shares[-1]], abs=2e-3)


def test_in_memory_heavy_runs_to_the_end():
    done = _run(ROOT / "benchmarks" / "scripts" / "in_memory_heavy.py",
                "--epochs", "1", "--steps-per-epoch", "2")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2/2 - " in done.stdout
