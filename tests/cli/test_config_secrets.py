"""Secrets never printed; environment values taken literally; durations finite and bounded."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestq.config import load_config
from ingestq.errors import ConfigError
from ingestq.redaction import redact

from .conftest import Invoke, parse

SECRET = "topsecret"


@pytest.mark.parametrize("url", [
    f"redis://:{SECRET}@127.0.0.1:notaport/0",
    f"redis://default:{SECRET}@127.0.0.1:6379/0",
    f"redis://127.0.0.1:6379/0?password={SECRET}",
    f"rediss://h:6380/0?ssl_cert_reqs=none&PASSWORD={SECRET}&db=1",
    f"unix:///tmp/redis.sock?db=0&password={SECRET}",
])
def test_redact_masks_the_password_in_user_info_and_query(url: str) -> None:
    shown = redact(url)
    assert SECRET not in shown and "***" in shown


def test_an_invalid_url_error_does_not_print_its_password(invoke: Invoke) -> None:
    result = invoke("status", redis_url=f"redis://:{SECRET}@127.0.0.1:notaport/0")
    assert result.exit_code == 3, result.output
    assert "invalid Redis URL" in result.stderr and SECRET not in result.output


def test_config_show_masks_a_password_query_parameter(invoke: Invoke) -> None:
    url = f"redis://127.0.0.1:1/0?password={SECRET}"
    data = parse(invoke("config", "show", "--json", redis_url=url))
    rows = {s["key"]: s["value"] for s in data["settings"]}
    assert rows["ingest.redis.url"] == "redis://127.0.0.1:1/0?password=***"


def test_a_config_error_about_the_token_does_not_echo_it(invoke: Invoke,
                                                         tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("ingest:\n  service:\n    token: 918273645\n")
    result = invoke("config", "check", str(cfg))
    assert result.exit_code == 2 and "ingest.service.token" in result.stderr
    assert "918273645" not in result.output


@pytest.mark.parametrize("value", ["secret #1", "'quoted'", "!tag", "*alias", "a: b", "[x]"])
def test_string_settings_from_the_environment_are_taken_literally(value: str) -> None:
    loaded = load_config(environ={"INGESTQ_SERVICE_TOKEN": value})
    assert loaded.ingest.service.token == value


def test_typed_settings_from_the_environment_are_parsed_by_their_type() -> None:
    loaded = load_config(environ={
        "INGESTQ_WORKER__CONCURRENCY": "3", "INGESTQ_WORKER__RUN_REAPER": "false",
        "INGESTQ_QUEUE_RECOVERY__LEASE_SECONDS": "2.5", "INGESTQ_WORKER__METRICS_PORT": "",
        "INGESTQ_PIPELINE__ROOTS": "[/a, /b]", "INGESTQ_WORKER__ISOLATION": "process"})
    ingest = loaded.ingest
    assert (ingest.worker.concurrency, ingest.worker.run_reaper) == (3, False)
    assert ingest.queue_recovery.lease_seconds == 2.5 and ingest.worker.metrics_port is None
    assert ingest.pipeline.roots == ["/a", "/b"] and ingest.worker.isolation == "process"


@pytest.mark.parametrize(("name", "value"), [
    ("INGESTQ_WORKER__CONCURRENCY", "!boom"), ("INGESTQ_WORKER__CONCURRENCY", "*x"),
    ("INGESTQ_WORKER__RUN_REAPER", "maybe"), ("INGESTQ_PIPELINE__ROOTS", "[unclosed"),
])
def test_a_bad_typed_environment_value_is_a_config_error_naming_the_variable(
        name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name) as caught:
        load_config(environ={name: value})
    assert value not in str(caught.value)


def test_a_bad_environment_value_exits_2_without_a_traceback(invoke: Invoke) -> None:
    result = invoke("config", "show", worker__concurrency="!boom")
    assert result.exit_code == 2 and "INGESTQ_WORKER__CONCURRENCY" in result.stderr
    assert "Traceback" not in result.output


# (keys the test environment does not override: it sets the lease and timeout keys)
@pytest.mark.parametrize(("key", "value"), [
    ("retry_backoff:\n    base_seconds", ".inf"),
    ("retry_backoff:\n    cap_seconds", ".nan"),
    ("queue:\n    done_retention_seconds", ".inf"),
    ("worker:\n    shutdown_grace_seconds", "1.0e+12"),
])
def test_config_check_refuses_infinite_nan_and_absurd_durations(
        invoke: Invoke, tmp_path: Path, key: str, value: str) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(f"ingest:\n  {key}: {value}\n")
    result = invoke("config", "check", str(cfg))
    assert result.exit_code == 2, result.output
    assert key.split()[-1] in result.stderr


def test_durations_from_the_environment_must_be_finite() -> None:
    for value in ("inf", "nan", "-inf"):
        with pytest.raises(ConfigError, match="lease_seconds"):
            load_config(environ={"INGESTQ_QUEUE_RECOVERY__LEASE_SECONDS": value})
