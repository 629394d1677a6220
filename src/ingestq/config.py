"""Typed configuration: one YAML file plus ``INGESTQ_...`` environment overrides, validated once.

The file is ``--config``, else ``$INGESTQ_CONFIG``, else ``./ingestq.yaml`` when present, else
defaults only. Everything lives under the top-level ``ingest:`` block; the operators' established
``ingest.queue_recovery`` keys keep their names and meaning. Environment variables override it:
``INGESTQ_<BLOCK>__<KEY>`` (for example ``INGESTQ_QUEUE_RECOVERY__MAX_RETRIES=5``), with the short
aliases ``INGESTQ_REDIS_URL``, ``INGESTQ_DATA_DIR`` and ``INGESTQ_SERVICE_TOKEN``. Values from the
environment are taken literally for string settings (``'secret #1'`` stays ``secret #1``) and
parsed only where the setting's type needs it: int, float, bool (true/false, yes/no, on/off, 1/0),
and YAML for lists. An empty value means "not set" (None).

Any unknown key, mistyped key or wrong type is a :class:`ConfigError` naming the key, where it came
from and the valid choices. There is no silent fallback to defaults.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, Field, ValidationError

from ingestq.core.settings import Block, CoreSettings, parse_flag
from ingestq.errors import ConfigError
from ingestq.ingest.settings import PipelineSettings
from ingestq.mcp.settings import McpSettings
from ingestq.redaction import masked
from ingestq.worker.settings import WorkerSettings

ENV_PREFIX = "INGESTQ_"
ENV_ALIASES = {
    "INGESTQ_REDIS_URL": ("redis", "url"),
    "INGESTQ_DATA_DIR": ("data_dir",),
    "INGESTQ_SERVICE_TOKEN": ("service", "token"),
}
ENV_NOT_SETTINGS = {"INGESTQ_CONFIG"}
DEFAULT_FILE = "ingestq.yaml"


class ServiceSettings(Block):
    """The HTTP service."""

    host: str = "127.0.0.1"  # loopback unless an operator opens it on purpose
    port: int = Field(8081, ge=1, le=65535)  # the established metrics port
    token: str | None = None  # bearer token for mutating routes; none set: they are refused
    max_body_bytes: int = Field(1_048_576, ge=1024)
    # The job reads (/jobs, /jobs/{id}, /dead) show payloads, worker host:pid and tracebacks.
    # auto: open on loopback, token required when bound beyond it; token: always; open: never.
    read_auth: Literal["auto", "token", "open"] = "auto"

    def local_host(self) -> str:
        """The address a client on this machine reaches the service at: a wildcard bind is
        reached on the loopback address of its family."""
        return {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(self.host, self.host)

    def local_url(self, path: str) -> str:
        """``http://`` URL of ``path`` on the service, as a client on this machine reaches it."""
        host = self.local_host()
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}{path}"


def is_loopback(host: str) -> bool:
    """Whether a bind address is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: assume it resolves beyond loopback


class IngestSettings(CoreSettings):
    """Everything under the top-level ``ingest:`` key: the core's settings plus the worker, the
    service and the pipeline."""

    worker: WorkerSettings = WorkerSettings()
    service: ServiceSettings = ServiceSettings()
    pipeline: PipelineSettings = PipelineSettings()  # parsing, embedder and stores of `file` jobs
    mcp: McpSettings = McpSettings()  # the MCP server (ingestctl mcp, /mcp on the service)

    @classmethod
    def extending(cls, core: CoreSettings) -> IngestSettings:
        """``core`` when it already is the application's settings, else it plus the defaults."""
        if isinstance(core, cls):
            return core
        return cls(**{name: getattr(core, name) for name in CoreSettings.model_fields})


class Settings(Block):
    """The whole configuration file."""

    ingest: IngestSettings = IngestSettings()


@dataclass(frozen=True)
class LoadedConfig:
    """Validated settings plus where each value came from (for `config show`)."""

    settings: Settings
    file: Path | None
    origins: dict[str, str] = field(default_factory=dict)  # dotted key -> "file" | "env:NAME"

    @property
    def ingest(self) -> IngestSettings:
        """Shortcut to the ``ingest`` block."""
        return self.settings.ingest


def load_config(path: str | os.PathLike[str] | None = None,
                environ: Mapping[str, str] | None = None) -> LoadedConfig:
    """Load, merge and validate the configuration; raise ConfigError on any problem."""
    env = os.environ if environ is None else environ
    file = _choose_file(path, env)
    data: dict[str, Any] = _read_yaml(file) if file else {}
    origins: dict[str, str] = {}
    _mark_origins(data, (), "file", origins)
    _apply_env(data, env, origins)
    where = str(file) if file else "the defaults"
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, where, origins)) from None
    return LoadedConfig(settings=settings, file=file, origins=origins)


def _choose_file(path: str | os.PathLike[str] | None, env: Mapping[str, str]) -> Path | None:
    if path is not None:
        chosen = Path(path)
    elif env.get("INGESTQ_CONFIG"):
        chosen = Path(env["INGESTQ_CONFIG"])
    elif Path(DEFAULT_FILE).is_file():
        return Path(DEFAULT_FILE).resolve()
    else:
        return None
    if not chosen.is_file():
        raise ConfigError(f"config file {chosen} does not exist or is not a file")
    return chosen.resolve()


def _read_yaml(file: Path) -> dict[str, Any]:
    import yaml  # only with a config file: PyYAML is 9 ms of every command's start-up

    try:
        loaded = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {file}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {file} is not valid YAML: {exc}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"config file {file} must hold a mapping with an 'ingest:' key")
    return loaded


def _mark_origins(node: Any, path: tuple[str, ...], origin: str, out: dict[str, str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            _mark_origins(value, (*path, str(key)), origin, out)
    elif path:
        out[".".join(path)] = origin


def _apply_env(data: dict[str, Any], env: Mapping[str, str], origins: dict[str, str]) -> None:
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX) or name in ENV_NOT_SETTINGS:
            continue
        path = ENV_ALIASES.get(name) or tuple(
            part.lower() for part in name[len(ENV_PREFIX):].split("__"))
        if not _known_path(path):
            raise ConfigError(
                f"unknown environment variable {name}: it names no setting "
                f"(form: INGESTQ_<BLOCK>__<KEY>, e.g. INGESTQ_QUEUE_RECOVERY__MAX_RETRIES; "
                f"aliases: {', '.join(sorted(ENV_ALIASES))})")
        node = data.setdefault("ingest", {})
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = _env_value(name, env[name], _field_type(path))
        origins["ingest." + ".".join(path)] = f"env:{name}"


def _known_path(path: tuple[str, ...]) -> bool:
    return _field_type(path) is not None


def _field_type(path: tuple[str, ...]) -> Any:
    """The annotation of the leaf setting at ``path`` under ``ingest``; None if none is there."""
    model: type[BaseModel] = IngestSettings
    for i, part in enumerate(path):
        info = model.model_fields.get(part)
        if info is None:
            return None
        sub = info.annotation
        if isinstance(sub, type) and issubclass(sub, BaseModel):
            model = sub
        else:
            return sub if i == len(path) - 1 else None
    return None


def _env_value(name: str, raw: str, annotation: Any) -> Any:
    """An environment value for a setting of this type: literal for strings, parsed otherwise.

    The value is never echoed in an error: it may be a secret.
    """
    if raw == "":
        return None
    types_ = _member_types(annotation)
    if str in types_:
        return raw
    try:
        if bool in types_:
            return parse_flag(raw.strip())
        if int in types_:
            return int(raw)
        if float in types_:
            return float(raw)
        return _yaml_value(raw)
    except ValueError as exc:
        expected = ", ".join(sorted(t.__name__ for t in types_ if t is not type(None)))
        reason = str(exc).splitlines()[0].split(":")[0]
        raise ConfigError(f"environment variable {name}: cannot read it as {expected} "
                          f"({reason})") from None


def _yaml_value(raw: str) -> Any:
    """A list or mapping written as YAML; ValueError when it is not (PyYAML itself raises one
    for a date out of range, such as 2020-13-45)."""
    import yaml  # lists and mappings only (see _read_yaml)

    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        raise ValueError("not valid YAML") from None


def _member_types(annotation: Any) -> set[Any]:
    """The plain types a setting accepts: str for a Literal of strings, each member of a union."""
    origin = get_origin(annotation)
    if origin is Literal:
        return {type(v) for v in get_args(annotation)}
    if origin in (Union, types.UnionType):
        return set().union(*(_member_types(a) for a in get_args(annotation)))
    return {origin or annotation}


def _explain(exc: ValidationError, where: str, origins: dict[str, str]) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        origin = origins.get(key, "")
        source = origin.replace("env:", "environment variable ") if origin.startswith(
            "env:") else where
        if err["type"] == "extra_forbidden":
            lines.append(_unknown_key(key, source))
        else:
            got = masked(key, err.get("input"))  # a secret's value is never echoed
            lines.append(f"{key} in {source}: {err['msg']} (got {got!r})")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def _unknown_key(key: str, source: str) -> str:
    parts = key.split(".")
    model: type[BaseModel] = Settings
    for part in parts[:-1]:
        sub = model.model_fields[part].annotation if part in model.model_fields else None
        if not (isinstance(sub, type) and issubclass(sub, BaseModel)):
            break
        model = sub
    valid = sorted(model.model_fields)
    guess = difflib.get_close_matches(parts[-1], valid, n=1)
    hint = f"; did you mean '{guess[0]}'?" if guess else ""
    return f"unknown key '{key}' in {source}; valid keys here: {', '.join(valid)}{hint}"


def effective_items(loaded: LoadedConfig) -> list[tuple[str, Any, str]]:
    """Every setting as (dotted key, value, origin), origin being file, env:NAME or default."""
    flat: list[tuple[str, Any, str]] = []

    def walk(model: BaseModel, prefix: str) -> None:
        for name in type(model).model_fields:
            value = getattr(model, name)
            key = f"{prefix}{name}"
            if isinstance(value, BaseModel):
                walk(value, key + ".")
            else:
                flat.append((key, value, loaded.origins.get(key, "default")))

    walk(loaded.settings, "")
    return flat
