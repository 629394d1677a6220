"""Usage and configuration errors are one line and exit 2; refusals under --json are JSON."""

from __future__ import annotations

import json

from ingestq.config import IngestSettings
from ingestq.core.queue import Queue

from .conftest import Invoke, make_dead, run_ingestctl


def test_a_worker_of_an_unknown_kind_or_module_is_a_one_line_usage_error(
        settings: IngestSettings) -> None:
    kinds = run_ingestctl(settings, "worker", "--kinds", "nosuch")
    assert kinds.returncode == 2 and "Traceback" not in kinds.stderr
    assert kinds.stderr.strip().count("\n") == 0
    assert "--kinds: no handler registered for nosuch; known:" in kinds.stderr
    module = run_ingestctl(settings, "worker", "--import", "nosuchmod")
    assert module.returncode == 2 and "Traceback" not in module.stderr
    assert module.stderr.strip().count("\n") == 0 and "nosuchmod" in module.stderr


def test_an_unknown_dead_reason_is_a_usage_error_naming_the_valid_ones(invoke: Invoke) -> None:
    for args in (("dead", "retry", "--reason", "bogus"), ("dead", "purge", "--reason", "bogus"),
                 ("dead", "list", "--reason", "bogus")):
        result = invoke(*args)
        assert result.exit_code == 2, args
        assert "permanent, retries_exhausted, poison, stale" in result.stderr
    as_json = invoke("dead", "retry", "--reason", "bogus", "--json")
    assert as_json.exit_code == 2 and "valid:" in json.loads(as_json.stdout)["error"]


def test_a_filter_matching_nothing_changes_nothing_exits_zero_and_says_it_was_no_dry_run(
        invoke: Invoke, live_queue: Queue) -> None:
    make_dead(live_queue, "fail")
    result = invoke("dead", "retry", "--kind", "nothing-of-this-kind", "--yes", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"dry_run": False, "selected": [], "count": 0}
    dry = invoke("dead", "retry", "--kind", "nothing-of-this-kind", "--dry-run", "--json")
    assert json.loads(dry.stdout) == {"dry_run": True, "selected": [], "count": 0}


def test_a_malformed_redis_url_is_a_configuration_error(settings: IngestSettings) -> None:
    for url in ("redis//nohost", "redis://h:port/0"):
        result = run_ingestctl(settings, "status", redis_url=url)
        assert result.returncode == 2, (url, result.stderr)
        assert "configuration error" in result.stderr and "not a valid Redis URL" in result.stderr


def test_an_unreachable_server_is_named_once(settings: IngestSettings) -> None:
    result = run_ingestctl(settings, "status", redis_url="redis://127.0.0.1:1/0")
    assert result.returncode == 3 and result.stderr.count("cannot reach Redis") == 1


def test_a_refusal_under_json_is_json(invoke: Invoke, live_queue: Queue) -> None:
    make_dead(live_queue, "fail", 2)
    result = invoke("dead", "purge", "--all", "--json")  # no terminal, no --yes
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["refused"] is True and "refusing to purge 2 dead job(s)" in data["error"]
