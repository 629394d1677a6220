"""`config show` and `config check`: the effective settings, each with where it came from."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ingestq.config import LoadedConfig, effective_items, load_config
from ingestq.redaction import masked


@dataclass(frozen=True)
class Setting:
    """One effective value and its origin: ``file``, ``env:NAME`` or ``default``."""

    key: str
    value: Any
    origin: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (one element of `config show --json`'s settings)."""
        return {"key": self.key, "value": self.value, "origin": self.origin}


def effective_settings(loaded: LoadedConfig) -> list[Setting]:
    """Every setting, secrets masked, in declaration order."""
    return [Setting(k, masked(k, v), origin) for k, v, origin in effective_items(loaded)]


def check_config_file(path: str | os.PathLike[str] | None) -> LoadedConfig:
    """Validate a file (with the environment's overrides); raises ConfigError naming the key."""
    return load_config(path)
