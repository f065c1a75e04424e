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


EXPECTED_KINDS = {
    # each example's pipeline as its source writes it (with --steps-per-epoch it repeats);
    # list_files is file names and, with shuffle=True, a shuffle
    "images_on_disk.py": ["source: file names", "shuffle", "map", "map", "batch", "repeat"],
    "text_pipeline.py": ["source: file names", "shuffle", "interleave", "map", "shuffle", "map",
                         "padded batch", "prefetch", "repeat"],
    "compute_bound.py": ["source: tensor slices", "cache", "shuffle", "batch", "prefetch",
                         "repeat"],
}


EXAMPLE_ARGS = {
    "images_on_disk.py": ("--num-images", "96", "--epochs", "1", "--steps-per-epoch", "3"),
    "text_pipeline.py": ("--num-sentences", "400", "--epochs", "1", "--steps-per-epoch", "3"),
    "compute_bound.py": ("--num-images", "128", "--epochs", "1", "--steps-per-epoch", "3"),
}


@pytest.fixture(scope="module")
def watched_examples(tmp_path_factory):
    """Every example under `pipeviz run --json`, all started at once (each mostly waits
    for TensorFlow's start-up: one at a time took 24 s): {name: (process, its TMPDIR)}."""
    started = {}
    for name, args in EXAMPLE_ARGS.items():
        tmp = tmp_path_factory.mktemp(name.removesuffix(".py"))
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TMPDIR": str(tmp),
               "PIPEVIZ_CACHE_DIR": str(tmp.parent / f"cache-{tmp.name}")}
        process = subprocess.Popen([sys.executable, "-m", "pipeviz", "run", "--json",
                                    str(ROOT / "examples" / name), *args, "--seed", "3"],
                                   cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        started[name] = (process, tmp)
    yield started
    for process, _ in started.values():
        if process.poll() is None:
            process.kill()
        process.communicate()


@pytest.mark.parametrize("name", list(EXAMPLE_ARGS))
def test_example_runs_under_pipeviz_run_and_removes_its_temporary_data(name, watched_examples):
    """Each example, watched as a user runs it (`pipeviz run --json`): it trains to the end,
    its prints go to stderr, stdout is one JSON object with its steps and its stages as
    written, and what it wrote in TMPDIR is gone."""
    process, tmp_path = watched_examples[name]
    stdout, stderr = process.communicate(timeout=180)
    assert process.returncode == 0, stderr[-3000:]
    assert "trained in" in stderr and "3/3 - " in stderr
    report = json.loads(stdout)
    assert report["steps"] == 3 and report["exit_code"] == 0
    kinds = [stage["kind"] for stage in report["stages"]]
    assert kinds == EXPECTED_KINDS[name]
    # (__pycache__: Python's bytecode of the modules TensorFlow's autograph writes to the
    # temporary folder, as under plain python, unless PYTHONDONTWRITEBYTECODE is set)
    assert [e for e in tmp_path.iterdir()
            if not e.name.startswith("pipeviz") and e.name != "__pycache__"] == []
