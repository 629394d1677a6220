"""Configuration: defaults, file, environment, and errors that name key, source and choices."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestq.config import effective_items, load_config
from ingestq.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ingestq.yaml"
    path.write_text(text)
    return path


def test_defaults_keep_the_established_recovery_keys() -> None:
    rc = load_config(environ={}).ingest.queue_recovery
    assert rc.enabled is True and rc.job_timeout_seconds == 600 and rc.max_retries == 3
    assert rc.stale_job_action == "requeue"


def test_file_values_are_loaded_and_marked_as_file(tmp_path: Path) -> None:
    path = write(tmp_path, "ingest:\n  queue_recovery:\n    max_retries: 5\n")
    loaded = load_config(path, environ={})
    assert loaded.ingest.queue_recovery.max_retries == 5
    origins = {k: o for k, _, o in effective_items(loaded)}
    assert origins["ingest.queue_recovery.max_retries"] == "file"
    assert origins["ingest.queue_recovery.lease_seconds"] == "default"


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "ingest:\n  queue_recovery:\n    max_retries: 5\n")
    loaded = load_config(path, environ={"INGESTQ_QUEUE_RECOVERY__MAX_RETRIES": "7",
                                        "INGESTQ_REDIS_URL": "redis://localhost:6379/0"})
    assert loaded.ingest.queue_recovery.max_retries == 7
    assert loaded.ingest.redis.url == "redis://localhost:6379/0"
    assert loaded.origins["ingest.redis.url"] == "env:INGESTQ_REDIS_URL"


def test_mistyped_key_names_key_file_and_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, "ingest:\n  queue_recovery:\n    max_retrys: 5\n")
    with pytest.raises(ConfigError) as exc:
        load_config(path, environ={})
    msg = str(exc.value)
    assert "ingest.queue_recovery.max_retrys" in msg and str(path) in msg
    assert "did you mean 'max_retries'" in msg


def test_wrong_type_is_an_error_not_a_coercion(tmp_path: Path) -> None:
    path = write(tmp_path, "ingest:\n  queue_recovery:\n    max_retries: 'three'\n")
    with pytest.raises(ConfigError, match="max_retries"):
        load_config(path, environ={})


def test_invalid_choice_lists_the_valid_ones(tmp_path: Path) -> None:
    path = write(tmp_path, "ingest:\n  queue_recovery:\n    stale_job_action: drop\n")
    with pytest.raises(ConfigError) as exc:
        load_config(path, environ={})
    assert "'requeue', 'fail' or 'dlq'" in str(exc.value)


def test_unknown_environment_variable_is_named() -> None:
    with pytest.raises(ConfigError, match="INGESTQ_QUEUE_RECOVERY__LEASE"):
        load_config(environ={"INGESTQ_QUEUE_RECOVERY__LEASE": "3"})


def test_bad_env_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="environment variable INGESTQ_WORKER__CONCURRENCY"):
        load_config(environ={"INGESTQ_WORKER__CONCURRENCY": "many"})


@pytest.mark.parametrize("raw", ["[unclosed", "[2020-13-45]"])
def test_a_structured_env_value_pyyaml_cannot_read_is_a_config_error(raw: str) -> None:
    # the second is YAML PyYAML parses as a date and then fails on with a ValueError
    with pytest.raises(ConfigError, match="environment variable INGESTQ_PIPELINE__ROOTS"):
        load_config(environ={"INGESTQ_PIPELINE__ROOTS": raw})


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml", environ={})


def test_invalid_yaml_is_reported_with_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "ingest: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path, environ={})


def test_roots_with_labels_load_from_yaml_and_an_unquoted_version_says_to_quote_it(
        tmp_path: Path) -> None:
    from ingestq.ingest.parsing.identity import Labels

    good = tmp_path / "good.yaml"
    good.write_text("ingest:\n  pipeline:\n    roots:\n      - /srv/a\n"
                    "      - {path: /srv/b, collection: fastapi, version: \"3.10\"}\n")
    pipeline = load_config(path=good, environ={}).ingest.pipeline
    assert pipeline.root_paths == ["/srv/a", "/srv/b"]
    assert pipeline.labels_for("/srv/b/x.md") == Labels("fastapi", "3.10")
    bad = tmp_path / "bad.yaml"
    bad.write_text("ingest:\n  pipeline:\n    roots:\n      - {path: /srv/b, version: 3.10}\n")
    with pytest.raises(ConfigError, match="quote it in YAML"):
        load_config(path=bad, environ={})


def test_a_client_on_this_machine_reaches_a_wildcard_bind_on_loopback_of_its_family() -> None:
    from ingestq.config import ServiceSettings

    assert ServiceSettings(host="0.0.0.0", port=9000).local_url("/mcp") == (
        "http://127.0.0.1:9000/mcp")
    assert ServiceSettings(host="::", port=9000).local_url("/search?q=x") == (
        "http://[::1]:9000/search?q=x")
    assert ServiceSettings(host="10.1.2.3").local_url("/mcp") == "http://10.1.2.3:8081/mcp"
