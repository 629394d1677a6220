"""clean: only stale attempts by default, live ones only when asked, never without consent."""

from __future__ import annotations

import os
import pty
import subprocess

import pytest
from support.procs import env_for, wait_for, wait_for_expired_leases

from ingestq.config import IngestSettings
from ingestq.core import queries
from ingestq.core.job import JobState
from ingestq.core.queue import Queue

from .conftest import INGESTCTL, Invoke, parse, run_ingestctl

CLEAN_KEYS = {"dry_run", "older_than", "selected", "alive", "jobs", "requeued",
              "dead_lettered", "skipped"}
CANDIDATE_KEYS = {"id", "kind", "age_seconds", "attempts", "failures", "max_retries", "worker",
                  "target", "alive", "why", "would"}


def stale_and_live(queue: Queue) -> tuple[str, str, str]:
    """One attempt whose lease has run out, one healthy attempt, and one pending job."""
    stale_id = queue.enqueue("noop", {"path": "/docs/stale.md"}).id
    queue.claim("dead-worker", 1, lease_seconds=0.2)
    live_id = queue.enqueue("noop", {"path": "/docs/live.md"}).id
    queue.claim("healthy-worker", 1, lease_seconds=60)
    pending_id = queue.enqueue("noop", {}).id
    wait_for_expired_leases(queue, 1)
    return stale_id, live_id, pending_id


def state_of(queue: Queue, job_id: str) -> tuple[JobState, int]:
    job = queries.get_job(queue, job_id)
    return job.state, job.token


def test_dry_run_selects_only_the_stale_attempt_and_changes_nothing(
        invoke: Invoke, live_queue: Queue) -> None:
    stale_id, _, _ = stale_and_live(live_queue)
    data = parse(invoke("clean", "--dry-run", "--json"))
    assert set(data) == CLEAN_KEYS
    assert [j["id"] for j in data["jobs"]] == [stale_id]
    assert set(data["jobs"][0]) == CANDIDATE_KEYS
    assert data["jobs"][0]["why"] == "lease_expired" and data["jobs"][0]["alive"] is False
    assert data["jobs"][0]["target"] == "/docs/stale.md"
    assert (data["requeued"], data["alive"]) == (0, 0)
    assert state_of(live_queue, stale_id)[0] is JobState.PROCESSING


def test_clean_yes_requeues_the_stale_attempt_and_leaves_the_live_one_untouched(
        invoke: Invoke, live_queue: Queue) -> None:
    stale_id, live_id, _ = stale_and_live(live_queue)
    live_before = state_of(live_queue, live_id)
    result = invoke("clean", "--yes")
    assert result.exit_code == 0, result.stderr
    assert "Requeued: 1" in result.stdout and "Failed (to DLQ): 0" in result.stdout
    assert state_of(live_queue, stale_id)[0] is JobState.PENDING
    assert state_of(live_queue, live_id) == live_before


def test_clean_selects_an_attempt_running_longer_than_the_job_timeout(
        invoke: Invoke, live_queue: Queue) -> None:
    job_id = live_queue.enqueue("noop", {}).id
    live_queue.claim("slow-worker", 1, lease_seconds=60)
    claimed_at = queries.get_job(live_queue, job_id).claimed_at
    assert claimed_at is not None
    wait_for(lambda: queries.server_time_ms(live_queue) / 1000 - claimed_at > 0.3, 10,
             "the attempt to outrun a 0.2 s timeout")
    data = parse(invoke("clean", "--dry-run", "--json",
                        queue_recovery__job_timeout_seconds=0.2))
    assert [(j["id"], j["why"], j["alive"]) for j in data["jobs"]] == [(job_id, "timeout",
                                                                        False)]


def test_older_than_zero_takes_live_attempts_too_and_names_how_many_are_alive(
        invoke: Invoke, live_queue: Queue) -> None:
    stale_id, live_id, pending_id = stale_and_live(live_queue)
    data = parse(invoke("clean", "--older-than", "0", "--yes", "--json"))
    assert {j["id"] for j in data["jobs"]} == {stale_id, live_id}
    assert (data["selected"], data["alive"], data["requeued"]) == (2, 1, 2)
    assert data["older_than"] == 0
    assert state_of(live_queue, live_id)[0] is JobState.PENDING
    assert state_of(live_queue, pending_id)[0] is JobState.PENDING


def test_older_than_leaves_attempts_younger_than_the_age_alone(
        invoke: Invoke, live_queue: Queue) -> None:
    stale_and_live(live_queue)
    data = parse(invoke("clean", "--older-than", "3600", "--yes", "--json"))
    assert data["selected"] == 0 and data["jobs"] == []


def test_clean_dead_letters_an_attempt_whose_retry_budget_is_spent(
        invoke: Invoke, live_queue: Queue) -> None:
    job_id = live_queue.enqueue("noop", {}, max_retries=0).id
    live_queue.claim("dead-worker", 1, lease_seconds=0.1)
    wait_for_expired_leases(live_queue, 1)
    data = parse(invoke("clean", "--yes", "--json"))
    assert (data["requeued"], data["dead_lettered"]) == (0, 1)
    job = queries.get_job(live_queue, job_id)
    assert (job.state, job.dead_reason) == (JobState.DEAD, "retries_exhausted")


def test_clean_without_a_terminal_and_without_yes_refuses_and_changes_nothing(
        invoke: Invoke, live_queue: Queue) -> None:
    stale_id, _, _ = stale_and_live(live_queue)
    result = invoke("clean")
    assert result.exit_code == 1
    assert "refusing" in result.stderr and "--yes" in result.stderr
    assert state_of(live_queue, stale_id)[0] is JobState.PROCESSING


@pytest.mark.slow
def test_the_installed_ingestctl_refuses_to_clean_from_a_script_without_yes(
        settings: IngestSettings, live_queue: Queue) -> None:
    stale_id, _, _ = stale_and_live(live_queue)
    proc = run_ingestctl(settings, "clean", "--older-than", "0")
    assert proc.returncode == 1, proc.stderr
    assert "refusing to clean 2 job(s)" in proc.stderr
    assert "alive" in proc.stdout  # the table said how many of the selection are running
    assert state_of(live_queue, stale_id)[0] is JobState.PROCESSING


def test_clean_with_nothing_stale_says_so_and_exits_0(invoke: Invoke,
                                                      live_queue: Queue) -> None:
    live_queue.enqueue("noop", {})
    result = invoke("clean")
    assert result.exit_code == 0
    assert "No stale job(s) found." in result.stdout


def answer_on_a_terminal(settings: IngestSettings, answer: str, *args: str) -> tuple[int, str]:
    """Run ingestctl with a pseudo-terminal as stdin and stderr; answer its question."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([INGESTCTL, *args], env=env_for(settings), stdin=follower,
                            stderr=follower, stdout=subprocess.PIPE, text=True)
    os.close(follower)
    seen = b""
    while b"[y/N]" not in seen:
        seen += os.read(leader, 4096)
    os.write(leader, answer.encode() + b"\n")
    proc.wait(30)
    try:
        while chunk := os.read(leader, 4096):
            seen += chunk
    except OSError:
        pass  # the terminal closes with the process
    os.close(leader)
    return proc.returncode, seen.decode(errors="replace")


@pytest.mark.slow
def test_on_a_terminal_clean_asks_naming_the_live_jobs_and_a_no_changes_nothing(
        settings: IngestSettings, live_queue: Queue) -> None:
    _, live_id, _ = stale_and_live(live_queue)
    code, screen = answer_on_a_terminal(settings, "n", "clean", "--older-than", "0")
    assert code == 1
    assert "1 of these 2 job(s) are ALIVE" in screen and "nothing was changed" in screen
    assert state_of(live_queue, live_id)[0] is JobState.PROCESSING


@pytest.mark.slow
def test_on_a_terminal_a_yes_to_the_question_cleans(settings: IngestSettings,
                                                   live_queue: Queue) -> None:
    stale_id, _, _ = stale_and_live(live_queue)
    code, _ = answer_on_a_terminal(settings, "y", "clean")
    assert code == 0
    assert state_of(live_queue, stale_id)[0] is JobState.PENDING
