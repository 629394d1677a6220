"""dead list, show, retry and purge: by id and by filter, with consent for filters."""

from __future__ import annotations

from ingestq.core import queries
from ingestq.core.job import JobState
from ingestq.core.queue import Queue

from .conftest import Invoke, make_dead, parse


def states(queue: Queue, ids: list[str]) -> list[str]:
    return [j.state.value for j in queries.get_jobs(queue, ids)]


def test_dead_list_filters_by_kind_and_reason(invoke: Invoke, live_queue: Queue) -> None:
    files = make_dead(live_queue, "file", 2)
    make_dead(live_queue, "noop", 1)
    data = parse(invoke("dead", "list", "--kind", "file", "--json"))
    assert [j["id"] for j in data] == files
    assert all(j["dead_reason"] == "permanent" for j in data)
    assert parse(invoke("dead", "list", "--reason", "poison", "--json")) == []
    assert len(parse(invoke("dead", "list", "--limit", "1", "--json"))) == 1


def test_dead_retry_of_a_filter_retries_only_the_matching_jobs(
        invoke: Invoke, live_queue: Queue) -> None:
    files = make_dead(live_queue, "file", 2)
    others = make_dead(live_queue, "noop", 1)
    data = parse(invoke("dead", "retry", "--kind", "file", "--reason", "permanent", "--yes",
                        "--json"))
    assert sorted(data["done"]) == sorted(files) and data["count"] == 2
    assert states(live_queue, files) == ["pending", "pending"]
    assert states(live_queue, others) == ["dead"]
    job = queries.get_job(live_queue, files[0])
    assert (job.failures, job.crash_recoveries) == (0, 0)  # a fresh budget


def test_dead_retry_of_a_filter_without_a_terminal_refuses(invoke: Invoke,
                                                          live_queue: Queue) -> None:
    files = make_dead(live_queue, "file", 2)
    result = invoke("dead", "retry", "--all")
    assert result.exit_code == 1
    assert "refusing to retry 2 dead job(s)" in result.stderr
    assert states(live_queue, files) == ["dead", "dead"]


def test_dead_retry_of_named_ids_needs_no_confirmation_and_reports_unknown_ids(
        invoke: Invoke, live_queue: Queue) -> None:
    [job_id] = make_dead(live_queue, "file", 1)
    result = invoke("dead", "retry", job_id, "999999", "--json")
    assert result.exit_code == 1  # one id could not be retried
    assert states(live_queue, [job_id]) == ["pending"]


def test_dead_retry_with_nothing_selected_is_a_usage_error(invoke: Invoke) -> None:
    result = invoke("dead", "retry")
    assert result.exit_code == 2
    assert "nothing selected" in result.stderr


def test_dead_purge_dry_run_changes_nothing_then_yes_deletes_the_selection(
        invoke: Invoke, live_queue: Queue) -> None:
    files = make_dead(live_queue, "file", 2)
    dry = parse(invoke("dead", "purge", "--all", "--dry-run", "--json"))
    assert dry == {"dry_run": True, "selected": files, "count": 2}
    assert states(live_queue, files) == ["dead", "dead"]
    data = parse(invoke("dead", "purge", "--all", "--yes", "--json"))
    assert sorted(data["done"]) == sorted(files)
    assert queries.get_jobs(live_queue, files) == []


def test_dead_show_of_a_job_that_is_not_dead_exits_1(invoke: Invoke,
                                                    live_queue: Queue) -> None:
    job_id = live_queue.enqueue("noop", {}).id
    result = invoke("dead", "show", job_id)
    assert result.exit_code == 1
    assert "not dead" in result.stderr
    assert queries.get_job(live_queue, job_id).state is JobState.PENDING
