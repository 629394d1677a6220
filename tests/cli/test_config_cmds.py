"""config show marks each value's origin; config check and bad config exit 2 naming the key."""

from __future__ import annotations

from pathlib import Path

from .conftest import Invoke, parse


def test_config_show_marks_each_value_file_env_or_default(invoke: Invoke,
                                                          tmp_path: Path) -> None:
    cfg = tmp_path / "ingestq.yaml"
    cfg.write_text("ingest:\n  queue_recovery:\n    max_retries: 7\n")
    data = parse(invoke("--config", str(cfg), "config", "show", "--json",
                        service_token="s3cret"))
    assert set(data) == {"file", "settings"}
    rows = {s["key"]: s for s in data["settings"]}
    assert rows["ingest.queue_recovery.max_retries"] == {
        "key": "ingest.queue_recovery.max_retries", "value": 7, "origin": "file"}
    assert rows["ingest.queue.name"]["origin"] == "env:INGESTQ_QUEUE__NAME"
    assert rows["ingest.worker.concurrency"]["origin"] == "default"
    assert rows["ingest.service.token"]["value"] == "***"


def test_config_check_accepts_a_valid_file(invoke: Invoke, tmp_path: Path) -> None:
    cfg = tmp_path / "ok.yaml"
    cfg.write_text("ingest:\n  queue_recovery:\n    stale_job_action: dlq\n")
    result = invoke("config", "check", str(cfg))
    assert result.exit_code == 0 and "is valid" in result.stdout


def test_config_check_of_a_mistyped_key_exits_2_naming_the_key_and_file(
        invoke: Invoke, tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("ingest:\n  queue_recovery:\n    max_retry: 3\n")
    result = invoke("config", "check", str(cfg))
    assert result.exit_code == 2
    assert "ingest.queue_recovery.max_retry" in result.stderr
    assert "did you mean 'max_retries'" in result.stderr


def test_any_command_with_a_bad_environment_value_exits_2_naming_the_variable(
        invoke: Invoke) -> None:
    result = invoke("status", queue_recovery__max_retries="many")
    assert result.exit_code == 2
    assert "INGESTQ_QUEUE_RECOVERY__MAX_RETRIES" in result.stderr
