"""The dashboard in a real headless Chromium against the service and a worker as processes:
every view opens, numbers move as the worker runs jobs, dead letters are retried and purged
through the page, a paused kind is not claimed, a running sleep job is cancelled, an action
without the token is refused and a payload with <script> is shown as text."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from redis import Redis
from support.auth import TOKEN
from support.procs import wait_for
from support.promtool import free_port
from support.settings import fast_settings

from ingestq.config import IngestSettings
from ingestq.core import queries
from ingestq.core.controls import paused_kinds
from ingestq.core.job import JobState, exception_entry
from ingestq.core.queue import Queue
from ingestq.service.app import create_app

from .conftest import Stack

WAIT_MS = 8000  # the page polls every 2 s: a change shows within a poll or two


@pytest.fixture(scope="module")
def page(browser: Any, stack: Stack) -> Iterator[Any]:
    """One tab for the whole module; the token is entered once, through the page's form."""
    # CSP off in this tab, so the escaping itself is what the <script> test proves (the policy
    # is checked on its own below)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    tab = context.new_page()
    tab.set_default_timeout(WAIT_MS)
    tab.goto(f"{stack.url}/ui#overview")
    tab.fill("#token", TOKEN)
    tab.click("#auth button[type=submit]")
    tab.wait_for_selector("text=Token set for this session")
    yield tab
    context.close()


def show(page: Any, stack: Stack, view: str) -> None:
    page.goto(f"{stack.url}/ui#{view}")
    page.wait_for_selector(f"main[data-view='{view.split('?')[0]}']")


def make_dead(queue: Queue, n: int, kind: str = "broken") -> list[str]:
    """Dead jobs of a kind no worker serves, failed permanently through the real scripts."""
    ids = [queue.enqueue(kind, {"path": f"/docs/{kind}-{i}.md"}).id for i in range(n)]
    for c in queue.claim("test", n, kinds=[kind]).jobs:
        try:  # a real exception, so the record keeps a traceback
            raise ValueError(f"cannot parse {c.payload['path']}: front matter never ends")
        except ValueError as exc:
            queue.fail(c.id, c.token, exception_entry(exc, "permanent"), mode="permanent")
    return ids


def test_overview_numbers_change_as_the_worker_processes_jobs(
        page: Any, stack: Stack, shots: Path) -> None:
    show(page, stack, "overview")
    before = int(page.inner_text("#depth-done"))
    for _ in range(20):
        stack.queue.enqueue("noop", {})
    page.wait_for_function(f"Number(document.querySelector('#depth-done').textContent) >= "
                           f"{before + 20}")
    assert page.inner_text("#workers-alive") == "1"
    page.screenshot(path=str(shots / "overview.png"), full_page=True)
    phone = page.context.browser.new_page(viewport={"width": 390, "height": 844},
                                          bypass_csp=True)
    phone.goto(f"{stack.url}/ui#overview")
    phone.wait_for_selector("#depth-done")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scroll
    phone.screenshot(path=str(shots / "overview-phone.png"), full_page=True)
    phone.close()


def test_jobs_view_filters_pages_and_opens_a_job_with_its_timeline(
        page: Any, stack: Stack, shots: Path) -> None:
    ids = [stack.queue.enqueue("inert", {"n": i}).id for i in range(60)]
    show(page, stack, "jobs?state=pending&kind=inert")
    assert page.locator("#jobs-table tbody tr").count() == 50
    page.click("text=Next page →")
    page.wait_for_selector(f"tr[data-job='{ids[-1]}']")
    assert page.locator("#jobs-table tbody tr").count() == 10
    page.screenshot(path=str(shots / "jobs.png"), full_page=True)
    page.click(f"a[href='#job?id={ids[-1]}']")
    page.wait_for_selector("#job-title")
    assert "enqueued" in page.inner_text("ol.timeline")
    fields = page.inner_text("dl.fields")
    assert "state" in fields and "pending" in fields and "HTMLElement" not in fields
    stack.queue.client.delete(stack.queue.keys.pending("inert"))


def test_dead_letters_are_retried_and_purged_through_the_page(
        page: Any, stack: Stack, shots: Path) -> None:
    q = stack.queue
    ids = make_dead(q, 3)
    show(page, stack, "dead?kind=broken")
    page.wait_for_selector(f"tr[data-job='{ids[2]}']")
    page.screenshot(path=str(shots / "dead.png"), full_page=True)
    show(page, stack, f"job?id={ids[0]}")
    page.click("details summary")
    assert "front matter never ends" in page.inner_text("details pre")  # the traceback
    updated = page.get_attribute("main", "data-updated")
    page.wait_for_function("u => document.querySelector('main').dataset.updated !== u",
                           arg=updated)
    assert page.is_visible("details pre")  # still open after a live update
    page.screenshot(path=str(shots / "job.png"), full_page=True)
    show(page, stack, "dead?kind=broken")
    page.wait_for_selector(f"tr[data-job='{ids[2]}']")
    page.check(f"input[data-select='{ids[0]}']")
    page.click("[data-testid=retry-selected]")
    assert "1 dead job(s)" in page.inner_text("#confirm-text")
    page.click("#confirm-yes")
    wait_for(lambda: queries.get_job(q, ids[0]).state is JobState.PENDING, 5, "the retry")
    page.click("[data-testid=purge-filter]")
    page.wait_for_selector("dialog#confirm[open]")
    assert "2 dead job(s)" in page.inner_text("#confirm-text")
    page.click("#confirm-yes")
    wait_for(lambda: not queries.get_jobs(q, ids[1:]), 5, "the purge")
    assert queries.get_job(q, ids[0]).state is JobState.PENDING  # the retried one is untouched
    page.wait_for_selector(f"tr[data-job='{ids[1]}']", state="detached")


def test_pausing_a_kind_in_the_page_stops_the_worker_claiming_it(
        page: Any, stack: Stack) -> None:
    q = stack.queue
    show(page, stack, "overview")  # noop is listed because the live worker takes it
    page.click("[data-testid=pause-noop]")
    wait_for(lambda: paused_kinds(q) == ["noop"], 5, "the pause")
    ids = [q.enqueue("noop", {}).id for _ in range(5)]
    page.wait_for_selector("[data-testid=resume-noop]")
    assert "paused" in page.inner_text("#warnings")
    page.wait_for_timeout(1500)  # the worker blocks on wake-ups: these would be done by now
    assert all(queries.get_job(q, i).state is JobState.PENDING for i in ids)
    page.click("[data-testid=resume-noop]")
    wait_for(lambda: all(queries.get_job(q, i).state is JobState.DONE for i in ids), 8,
             "the jobs after resume")


def test_a_running_sleep_job_is_cancelled_from_the_workers_view(
        page: Any, stack: Stack, shots: Path) -> None:
    q = stack.queue
    job_id = q.enqueue("sleep", {"seconds": 60}).id
    wait_for(lambda: queries.get_job(q, job_id).state is JobState.PROCESSING, 8, "the claim")
    show(page, stack, "workers")
    page.wait_for_selector(f"[data-testid='cancel-{job_id}']")
    page.wait_for_selector(f"tr[data-job='{job_id}'] .bar")  # the sleep reports progress
    page.screenshot(path=str(shots / "workers.png"), full_page=True)
    page.click(f"[data-testid='cancel-{job_id}']")
    wait_for(lambda: queries.get_job(q, job_id).dead_reason == "cancelled", 5, "the cancel")
    page.wait_for_selector(f"[data-testid='cancel-{job_id}']", state="detached")
    # the worker stopped the handler: its slot takes the next job at once
    nxt = q.enqueue("noop", {}).id
    wait_for(lambda: queries.get_job(q, nxt).state is JobState.DONE, 8, "the next job")


def test_scheduled_view_runs_a_delayed_job_now(page: Any, stack: Stack, shots: Path) -> None:
    q = stack.queue
    job_id = q.enqueue("noop", {}, delay_seconds=3600).id
    show(page, stack, "scheduled")
    page.wait_for_selector(f"tr[data-job='{job_id}']")
    assert "(in 59m" in page.inner_text(f"tr[data-job='{job_id}']")
    page.screenshot(path=str(shots / "scheduled.png"), full_page=True)
    page.click(f"[data-testid='run-now-{job_id}']")
    wait_for(lambda: queries.get_job(q, job_id).state is JobState.DONE, 8, "the job to run")


def test_an_action_without_the_token_is_refused(browser: Any, stack: Stack) -> None:
    context = browser.new_context()  # a new session: no token in sessionStorage
    tab = context.new_page()
    tab.set_default_timeout(WAIT_MS)
    tab.goto(f"{stack.url}/ui#overview")
    tab.click("[data-testid=pause-noop]")
    tab.wait_for_selector("#notice.error")
    assert "refused (401)" in tab.inner_text("#notice")
    assert paused_kinds(stack.queue) == []
    status = tab.evaluate("fetch('/kinds/noop/pause', {method: 'POST'}).then(r => r.status)")
    assert status == 401 and paused_kinds(stack.queue) == []
    context.close()


def test_a_payload_with_script_is_shown_as_text(page: Any, stack: Stack) -> None:
    evil = "<script>window.pwned = 1</script><img src=x onerror='window.pwned = 2'>"
    job_id = stack.queue.enqueue("inert", {"note": evil}).id
    show(page, stack, f"job?id={job_id}")
    assert evil in page.inner_text("#payload")
    show(page, stack, "jobs?state=pending&kind=inert")
    assert evil in page.inner_text(f"tr[data-job='{job_id}'] .payload")
    assert page.evaluate("window.pwned === undefined")
    assert page.locator("main script, main img").count() == 0
    stack.queue.client.delete(stack.queue.keys.pending("inert"))


def test_the_page_forbids_inline_scripts_and_framing(stack: Stack) -> None:
    res = httpx.get(f"{stack.url}/ui")
    csp = res.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and res.headers["x-content-type-options"] == "nosniff"


def test_the_page_is_read_only_and_says_why_without_a_configured_token(
        browser: Any, client: Redis, base_settings: IngestSettings) -> None:
    settings = fast_settings(base_settings)  # no service token
    queue = Queue(client, settings)
    queue.enqueue("noop", {})
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(queue), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, 10, "the service")
        tab = browser.new_page()
        tab.set_default_timeout(WAIT_MS)
        tab.goto(f"http://127.0.0.1:{port}/ui#overview")
        assert "no service token is configured" in tab.inner_text("#read-only")
        assert tab.is_disabled("[data-testid=pause-noop]")
        tab.close()
    finally:
        server.should_exit = True
        thread.join(10)
