"""The version pipeviz reports (`pipeviz --version`, the application's version): the
installed package's metadata, or, in a checkout that was never installed, pyproject.toml's.
Standard library only, so asking for it imports neither TensorFlow nor Qt."""
from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
"""The package root is the checkout's root (pyproject maps `pipeviz` to ".")."""


def pyproject_version(path: Path = PYPROJECT) -> str | None:
    """The `version = "..."` of pyproject's [project] table, or None without one."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    project = re.search(r"^\[project\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    found = project and re.search(r'^version\s*=\s*"([^"]+)"', project.group(1), re.M)
    return found.group(1) if found else None


def package_version() -> str:
    """"X.Y.Z" from the installed metadata, else pyproject.toml, else "unknown"."""
    try:
        return metadata.version("pipeviz")
    except metadata.PackageNotFoundError:
        return pyproject_version() or "unknown"
