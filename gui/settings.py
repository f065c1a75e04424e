"""Settings that persist between launches (QSettings): pipeline knobs, epochs, data path,
geometry.

Read defensively: the settings file is a user file (hand-edited, half-written, from another
version), so any value that cannot be read is ignored with one warning and its default used;
nothing in it can stop the app from starting.
"""
from __future__ import annotations

import dataclasses
import logging

from PySide6.QtCore import QByteArray, QSettings

from pipeviz.core.config import ConfigError, PipelineConfig

log = logging.getLogger(__name__)
PREFIX = "pipeline/"
_BOOLS = {"true": True, "1": True, "yes": True, "on": True,
          "false": False, "0": False, "no": False, "off": False}


def save_pipeline_config(settings: QSettings, config: PipelineConfig) -> None:
    for field in dataclasses.fields(config):
        settings.setValue(PREFIX + field.name, getattr(config, field.name))


def load_pipeline_config(settings: QSettings) -> PipelineConfig:
    """The saved knobs; any missing or invalid one falls back to its default."""
    config = PipelineConfig()
    for field in dataclasses.fields(config):
        raw = settings.value(PREFIX + field.name)
        if raw is None:
            continue
        default = getattr(config, field.name)
        try:
            if isinstance(default, bool):
                value = raw if isinstance(raw, bool) else _BOOLS[str(raw).strip().lower()]
            else:
                value = type(default)(raw)
            config = config.replace(**{field.name: value})
        except (ValueError, TypeError, KeyError, OverflowError, ConfigError) as exc:
            log.warning("ignoring saved setting %s=%r (using %r): %s", field.name, raw,
                        default, exc)
    return config


def _raw(settings: QSettings, key: str):
    """The stored value, or None when there is none or Qt cannot convert it."""
    try:
        return settings.value(key)
    except Exception as exc:  # a value Qt fails to decode must not stop the launch
        log.warning("ignoring saved setting %s: it cannot be read (%s)", key, exc)
        return None


def load_string(settings: QSettings, key: str) -> str | None:
    """A text setting (e.g. the data path); None when missing or not text."""
    raw = _raw(settings, key)
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        log.warning("ignoring saved setting %s=%r: expected text", key, raw)
        return None
    return raw


def load_bool(settings: QSettings, key: str, default: bool) -> bool:
    """A true/false setting; anything else gives `default` (with a warning)."""
    raw = _raw(settings, key)
    if raw is None:
        return default
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _BOOLS:
        return _BOOLS[text]
    log.warning("ignoring saved setting %s=%r: expected true or false (using %s)", key, raw, default)
    return default


def load_int(settings: QSettings, key: str, default: int, lowest: int, highest: int) -> int:
    """A whole-number setting in [lowest, highest]; anything else gives `default` (with a
    warning)."""
    raw = _raw(settings, key)
    if raw is None:
        return default
    try:
        value = int(str(raw).strip())
    except ValueError:
        value = None
    if value is None or not lowest <= value <= highest:
        log.warning("ignoring saved setting %s=%r: expected a whole number from %d to %d "
                    "(using %d)", key, raw, lowest, highest, default)
        return default
    return value


def load_geometry(settings: QSettings) -> QByteArray | None:
    """The saved window geometry as Qt wrote it; None (with a warning) for anything else
    (e.g. `geometry=x`, which Qt hands back as text)."""
    raw = _raw(settings, "geometry")
    if raw is None:
        return None
    if isinstance(raw, (QByteArray, bytes)):
        return QByteArray(raw)
    log.warning("ignoring saved setting geometry=%r: not a saved window geometry", raw)
    return None
