"""The SDK's own client on this server: `ingestctl mcp` over stdio, or the service's ``/mcp`` over
streamable HTTP with the bearer token. ``ingestctl eval --via`` and ``bench/mcp.py`` use it.

A search through it follows ``next_cursor`` until the ranking is whole: a reply cut by the
server's token ceiling is the same ranking in more calls, not a shorter one. A server that cannot
be reached, or refuses the token, is a :class:`~ingestq.errors.ConfigError` saying what to fix:
the SDK itself reports an HTTP 401 only as "Server returned an error response".
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ingestq.errors import ConfigError, IngestqError
from ingestq.ingest.eval_local import relative
from ingestq.ingest.eval_metrics import Hit
from ingestq.ingest.eval_run import Answer, SearchFn

if TYPE_CHECKING:  # the SDK loads only when a client is opened (seconds of imports)
    from mcp import Client

Via = Literal["mcp", "http"]
TIMEOUT_SECONDS = 120.0  # the first call opens the stores and may load a model


@dataclass(frozen=True)
class Target:
    """Where the client connects: ``mcp`` spawns ``ingestctl mcp`` with ``env`` (None: this
    process's environment, so the same config); ``http`` is ``url`` with ``token``."""

    via: Via
    url: str | None = None
    token: str | None = None
    env: Mapping[str, str] | None = None

    def describe(self) -> str:
        """One phrase for reports: what was measured."""
        return "ingestctl mcp over stdio" if self.via == "mcp" else f"streamable HTTP {self.url}"


@dataclass(frozen=True)
class Reply:
    """A whole search: the hits of every page in rank order, and what the pages cost."""

    hits: list[dict[str, Any]]
    tokens: int  # the replies' ``tokens`` summed: the server's one counter, on the text content
    calls: int
    seconds: float  # the calls, timed in the client's event loop


def stdio_command() -> tuple[str, list[str]]:
    """This interpreter running ``ingestctl mcp``: the same installation as the caller's."""
    return sys.executable, ["-m", "ingestq.cli", "mcp"]


@asynccontextmanager
async def connect(target: Target, timeout: float = TIMEOUT_SECONDS) -> AsyncIterator[Client]:
    """An initialised SDK client on the server; ConfigError when it cannot be had."""
    from mcp import Client, StdioServerParameters

    refused: list[tuple[int, str]] = []  # HTTP errors the SDK will only call "an error"
    async with AsyncExitStack() as stack:
        if target.via == "mcp":
            command, args = stdio_command()
            env = dict(os.environ if target.env is None else target.env)
            client = Client(StdioServerParameters(command=command, args=args, env=env),
                            read_timeout_seconds=timeout)
        else:
            client = Client(await _http_transport(stack, target, timeout, refused),
                            read_timeout_seconds=timeout)
        try:
            await stack.enter_async_context(client)
        except Exception as exc:
            raise ConfigError(_why(target, refused, exc)) from exc
        yield client


async def _http_transport(stack: AsyncExitStack, target: Target, timeout: float,
                          refused: list[tuple[int, str]]) -> Any:
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    if not target.url:
        raise ConfigError("--via http needs the URL of the service's /mcp")
    if not target.token:
        raise ConfigError("--via http needs the service's bearer token: set "
                          "INGESTQ_SERVICE_TOKEN (or ingest.service.token) to the token "
                          "`ingestctl serve` runs with")

    async def note(response: httpx2.Response) -> None:
        if response.status_code >= 400:
            await response.aread()
            refused.append((response.status_code, response.text[:300]))

    http = await stack.enter_async_context(httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {target.token}"}, timeout=timeout,
        event_hooks={"response": [note]}))
    return streamable_http_client(target.url, http_client=http)


def _why(target: Target, refused: list[tuple[int, str]], exc: BaseException) -> str:
    if target.via == "mcp":
        return (f"`ingestctl mcp` did not answer ({_root_cause(exc)}); its own error, if it "
                "printed one, is above")
    where = f"the MCP endpoint at {target.url}"
    if refused:
        status, body = refused[0]
        if status == 401:
            return (f"{where} refused the bearer token (401): set INGESTQ_SERVICE_TOKEN (or "
                    "ingest.service.token) to the token the service runs with")
        if status == 403:
            return f"{where} is off (403): {_said(body)}"
        if status == 404:
            return f"nothing serves MCP at {target.url} (404): the path is /mcp"
        return f"{where} answered HTTP {status}: {_said(body)}"
    return (f"cannot reach {where} ({_root_cause(exc)}): start `ingestctl serve` or fix the "
            "URL")


def _said(body: str) -> str:
    import json

    try:
        return str(json.loads(body)["error"])
    except (ValueError, KeyError, TypeError):
        return body.strip() or "no reason given"


def _root_cause(exc: BaseException) -> str:
    # The SDK raises from task groups: name the first real error, not "unhandled errors in a
    # TaskGroup".
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def search_all(client: Client, query: str, k: int, **arguments: Any) -> Reply:
    """The ``search`` tool's whole ranking, following cursors; IngestqError on a tool error."""
    hits: list[dict[str, Any]] = []
    tokens = calls = 0
    cursor: str | None = None
    started = time.perf_counter()
    while True:
        try:
            result = await client.call_tool("search", {"query": query, "k": k, **arguments,
                                                       **({"cursor": cursor} if cursor else {})})
        except Exception as exc:  # the SDK's errors: the server went away, timed out, ...
            raise IngestqError(f"the MCP server stopped answering during the search for "
                               f"{query!r} ({_root_cause(exc)})") from exc
        calls += 1
        if result.is_error or result.structured_content is None:
            text = " ".join(getattr(c, "text", "") for c in result.content)
            raise IngestqError(f"the search tool failed for {query!r}: {text}")
        content = result.structured_content
        hits += content["hits"]
        tokens += int(content["tokens"])
        cursor = content.get("next_cursor")
        if not cursor:
            return Reply(hits, tokens, calls, time.perf_counter() - started)


@contextmanager
def blocking(target: Target, timeout: float = TIMEOUT_SECONDS
             ) -> Iterator[Callable[[str, int], Reply]]:
    """A synchronous ``search(query, k) -> Reply`` on a connected client, for callers without
    an event loop (the eval runner): the client lives in a loop thread of its own. The reply's
    ``seconds`` are timed inside that loop, so the hop between threads (0.1 ms on an idle core,
    more when the machine is busy) is not counted as the transport's."""
    import anyio.from_thread

    with anyio.from_thread.start_blocking_portal() as portal, \
            portal.wrap_async_context_manager(connect(target, timeout)) as client:
        yield lambda query, k: portal.call(search_all, client, query, k)


def eval_search(search: Callable[[str, int], Reply], root: Path) -> SearchFn:
    """A transport's search as the eval runner's SearchFn: paths relative to ``root``."""

    def search_fn(query: str, k: int) -> Answer:
        reply = search(query, k)
        hits = [Hit(relative(h["path"], root), h["anchor"], float(h["score"]),
                    " > ".join(h["heading_path"]) or h["title"], h["section_id"])
                for h in reply.hits]
        return Answer(hits, reply.tokens, reply.calls, reply.seconds)

    return search_fn
