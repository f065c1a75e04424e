"""Reading and writing user files without hanging on them or leaving debris behind.

- `open_regular` opens without blocking and refuses anything but a regular file: a FIFO
  named `mnist.npz` would otherwise block the reader forever.
- Temporary files and folders carry the writing process's id (`temp_name`), so a later run
  can tell the leftovers of a killed process (kill -9, power loss) from the work of one that
  is still running, and remove only those (`remove_stale`).
"""
from __future__ import annotations

import errno
import logging
import os
import re
import shutil
import stat
import uuid
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

TEMP_MARK = ".tmp-"


class NotRegularFile(OSError):
    """The path names a FIFO, device, socket or folder where a file was expected."""


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def open_regular(path: Path | str) -> BinaryIO:
    """Open `path` for reading, binary; NotRegularFile if it is not a regular file. Opened
    with O_NONBLOCK so that opening a FIFO returns at once instead of waiting for a writer."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(errno.EINVAL, f"is {_kind(mode)}, not a regular file", str(path))
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def is_special(path: Path) -> str | None:
    """What `path` is when it exists but is not a regular file or folder, else None."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return _kind(mode)


def temp_name(stem: str, suffix: str = "") -> str:
    """A hidden temporary name beside `stem` that records this process: `.stem.tmp-PID-XXXX`."""
    return f".{stem}{TEMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}{suffix}"


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (one we may not signal counts as alive)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:
        return False
    return True


def remove_stale(folder: Path, stem: str = "", suffix: str = "") -> list[Path]:
    """Remove the temporaries (files or folders) in `folder` named by `temp_name(stem...,
    suffix)` whose process is gone; those of live processes (this one included) stay.
    Returns what was removed; never raises (a cache that cannot be tidied still works)."""
    pattern = re.compile(rf"^\.{re.escape(stem) if stem else '.+'}{re.escape(TEMP_MARK)}"
                         rf"(\d+)-[0-9a-f]{{8}}{re.escape(suffix)}$")
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = pattern.match(entry.name)
        if not match or pid_alive(int(match.group(1))):
            continue
        path = Path(entry.path)
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError as exc:
            log.warning("could not remove the leftover temporary %s: %s", path, exc)
            continue
        removed.append(path)
    if removed:
        log.warning("removed %d leftover temporar%s of ended processes in %s", len(removed),
                    "y" if len(removed) == 1 else "ies", folder)
    return removed


def short_reason(exc: BaseException) -> str:
    """What went wrong, without the graph trace TensorFlow puts in its messages (`Graph
    execution error`, the Python stack the op was defined at, the op's name in braces):
    the cause, which TensorFlow puts at the end."""
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    kept = [line.strip() for line in str(text).splitlines()
            if line.strip() and not line.startswith((" ", "\t"))
            and not line.startswith(("Graph execution error", "Detected at node"))]
    cause = " ".join(kept) or str(text).strip()
    return re.sub(r"\{\{[^}]*\}\}\s*", "", cause).strip()


def verbose_logging() -> bool:
    """True when the user asked for --verbose (the root logger shows INFO)."""
    return logging.getLogger().isEnabledFor(logging.INFO)


def log_failure(logger: logging.Logger, what: str, exc: BaseException,
                level: int = logging.ERROR) -> None:
    """One line naming what failed and why; the traceback only with --verbose. A failure
    that an ErrorEvent also reports is logged at INFO: the front end that shows it (the
    window's dialog) logs it once as an error."""
    logger.log(level, "%s: %s", what, exc, exc_info=exc if verbose_logging() else None)
