"""What every benchmark script shares: where the project and the real MNIST split are, the
`--data` / `--out` flags, and writing the results (benchmarks/results/<name>.json)."""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = str(ROOT.parent / "shared" / "data" / "mnist")


def parser_for(doc: str, name: str) -> argparse.ArgumentParser:
    """An argparse parser described by the script's docstring, with `--data` (default: the
    shared MNIST split beside the project) and `--out` (default: results/<name>.json)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--data", default=DEFAULT_DATA, help="MNIST folder or .npz (%(default)s)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / f"{name}.json"),
                        help="where the JSON results go (%(default)s)")
    return parser


def write_results(path: str | Path, results: dict) -> None:
    """Write `results` as indented JSON to `path` via a temporary file renamed into place,
    so an interrupted run never leaves the previous results half overwritten."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(results, indent=1) + "\n")
    os.replace(tmp, path)
