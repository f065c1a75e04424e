"""Settings that persist between launches (QSettings): pipeline knobs, data path, geometry."""
from __future__ import annotations

import dataclasses
import logging

from PySide6.QtCore import QSettings

from pipeviz.core.config import ConfigError, PipelineConfig

log = logging.getLogger(__name__)
PREFIX = "pipeline/"


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
                value = raw if isinstance(raw, bool) else str(raw).lower() == "true"
            else:
                value = type(default)(raw)
            config = config.replace(**{field.name: value})
        except (ValueError, TypeError, ConfigError) as exc:
            log.warning("ignoring saved setting %s=%r: %s", field.name, raw, exc)
    return config
