"""Build the MCP server: one function, used by ``ingestctl mcp`` (stdio) and the service (HTTP).

Every tool publishes its output schema and answers with the typed result in
``structured_content`` and a short Markdown rendering as text (billed once). A call the server
cannot answer as asked (unknown id, bad argument, nothing ingested, Redis down) is a tool error
whose message says what to do; nothing a caller sends takes the server down.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.server.subscriptions import InMemorySubscriptionBus
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field
from redis.exceptions import RedisError

from ingestq import __version__
from ingestq.config import IngestSettings
from ingestq.errors import ConnectionFailed, IngestqError, TransientError
from ingestq.mcp import render
from ingestq.mcp.budget import counter_for
from ingestq.mcp.freshness import watch_documents
from ingestq.mcp.library import Library, Refused
from ingestq.mcp.models import (
    DocumentList,
    DocumentOutput,
    EnqueuedJob,
    IngestOutput,
    QueueStatus,
    RelatedOutput,
    SearchOutput,
    SectionOutput,
)
from ingestq.mcp.reading import MAX_K, Reader
from ingestq.tracing import tool_span

INSTRUCTIONS = (
    "Search ingested documentation and read it. Start with search; open a hit with get_section "
    "(its parent, previous, next and children come along), see a whole document's headings with "
    "get_document, follow links with related. Results fit max_tokens; when truncated, pass "
    "next_cursor (or next_part) to continue. Every hit carries ingested_at and content_hash."
)
READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
DOCUMENT_URI = "ingestq://document/{document_id}"

MaxTokens = Annotated[int | None, Field(description=(
    "most tokens the text of the reply may hold; default and ceiling: the server's "
    "mcp.max_tokens; at least 200"))]
Cursor = Annotated[str | None, Field(description="next_cursor of the previous reply, to go on")]
Collection = Annotated[str | None, Field(description=(
    "only this collection (exact label); default: every collection"))]
Version = Annotated[str | None, Field(description=(
    "only this version (exact label, any string), or a prefix ending in '*' such as '3.*'; "
    "'*' alone: every version. Default: each collection's newest version (ingested last)"))]


def _result(model: BaseModel, text: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)],
                          structured_content=model.model_dump(mode="json"))


def _failure_hint(exc: Exception) -> str:
    if isinstance(exc, Refused):
        return str(exc)
    if isinstance(exc, ConnectionFailed | RedisError):
        return (f"Redis is unreachable ({exc}): start it (ingestctl up) or fix ingest.redis.url; "
                "searching and reading do not need it, and the next call retries")
    if isinstance(exc, sqlite3.Error | TransientError):
        return f"the document store is busy or unreadable ({exc}): retry in a moment"
    return f"{type(exc).__name__}: {exc}"


class _Calls:
    """Runs each tool under its span and turns every expected failure into a tool error."""

    def __init__(self, library: Library) -> None:
        self.library = library

    def run(self, tool: str, args: dict[str, Any], fn: Callable[[], tuple[BaseModel, str]],
            count: Callable[[Any], int]) -> CallToolResult:
        sizes = {k: len(v) if isinstance(v, str | list) else 1 for k, v in args.items()
                 if v is not None}
        with tool_span(tool, sizes, self.library.store_kind) as span:
            try:
                model, text = fn()
            except (IngestqError, RedisError, sqlite3.Error) as exc:
                raise ToolError(_failure_hint(exc)) from exc
            span.result_count(count(model))
            return _result(model, text)


def build_server(settings: IngestSettings, library: Library | None = None) -> MCPServer[Any]:
    """The MCP server over the documents and queue of these settings."""
    library = library or Library(settings)
    reader = Reader(library, counter_for(settings.pipeline.embedder), settings.mcp.max_tokens)
    bus = InMemorySubscriptionBus()

    @asynccontextmanager
    async def lifespan(_: MCPServer[Any]) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_warm_up, library)
            tasks.start_soon(watch_documents, library, bus, settings.mcp.poll_seconds)
            try:
                yield
            finally:
                tasks.cancel_scope.cancel()

    server: MCPServer[Any] = MCPServer(
        "ingestq", version=__version__, instructions=INSTRUCTIONS, lifespan=lifespan,
        subscriptions=bus, log_level="WARNING")
    calls = _Calls(library)
    _add_read_tools(server, reader, calls)
    _add_queue_tools(server, library, calls, settings)
    _add_resources(server, library)
    return server


async def _warm_up(library: Library) -> None:
    # Open the stores and build the embedder before the first call needs them.
    def warm() -> None:
        # Nothing ingested yet: opened on the first call after the first ingest instead.
        with contextlib.suppress(Refused):
            library.pipeline().embedder.embed(["warm up"])

    await anyio.to_thread.run_sync(warm)


def _add_read_tools(server: MCPServer[Any], reader: Reader, calls: _Calls) -> None:
    @server.tool(annotations=READ_ONLY, structured_output=True)
    def search(
        query: Annotated[str, Field(description="what to look for, in words (up to 1000 chars)")],
        k: Annotated[int, Field(description=f"hits wanted, 1 to {MAX_K}")] = 10,
        path_prefix: Annotated[str | None, Field(
            description="only documents whose path starts with this")] = None,
        max_tokens: MaxTokens = None,
        cursor: Cursor = None,
        collection: Collection = None,
        version: Version = None,
    ) -> Annotated[CallToolResult, SearchOutput]:
        """Search the ingested documentation (keywords and meaning, fused). Each hit has the
        section_id to open with get_section, the document_id for get_document, path#anchor,
        a snippet, its collection and version, and when it was ingested."""
        return calls.run("search", {"query": query, "path_prefix": path_prefix,
                                    "collection": collection, "version": version},
                         lambda: reader.search(query, k, path_prefix, max_tokens, cursor,
                                               collection, version),
                         lambda m: len(m.hits))

    @server.tool(annotations=READ_ONLY, structured_output=True)
    def get_section(
        section_id: Annotated[str, Field(description="a section_id from search or an outline")],
        context: Annotated[str, Field(description=(
            "'neighbours' adds parent, previous, next and children; 'none' only the text"))
        ] = "neighbours",
        max_tokens: MaxTokens = None,
        part: Annotated[int, Field(description="next_part of the previous reply")] = 0,
    ) -> Annotated[CallToolResult, SectionOutput]:
        """Read one section's text, with its parent, previous/next sections and children so
        you can widen what you read without searching again. A long section comes in parts."""
        return calls.run("get_section", {"section_id": section_id},
                         lambda: reader.section(section_id, context, max_tokens, part),
                         lambda m: 1)

    @server.tool(annotations=READ_ONLY, structured_output=True)
    def get_document(
        path_or_id: Annotated[str, Field(description=(
            "a document_id, or the file's path (the end of it is enough when unique)"))],
        max_tokens: MaxTokens = None,
        cursor: Cursor = None,
    ) -> Annotated[CallToolResult, DocumentOutput]:
        """A document's outline: its heading tree with section ids and token counts, without
        the text (read sections with get_section, or the whole document as the resource
        ingestq://document/{document_id})."""
        return calls.run("get_document", {"path_or_id": path_or_id},
                         lambda: reader.document(path_or_id, max_tokens, cursor),
                         lambda m: len(m.sections))

    @server.tool(annotations=READ_ONLY, structured_output=True)
    def list_documents(
        path_prefix: Annotated[str | None, Field(
            description="only documents whose path starts with this")] = None,
        limit: Annotated[int, Field(description="documents per page, 1 to 200")] = 50,
        cursor: Cursor = None,
        collection: Collection = None,
        version: Version = None,
    ) -> Annotated[CallToolResult, DocumentList]:
        """The ingested documents by path, a page at a time, with their collection and
        version (by default the newest version of each collection, as search reads)."""
        return calls.run("list_documents", {"path_prefix": path_prefix,
                                            "collection": collection, "version": version},
                         lambda: reader.documents(path_prefix, limit, cursor, collection,
                                                  version),
                         lambda m: len(m.documents))

    @server.tool(annotations=READ_ONLY, structured_output=True)
    def related(
        section_id: Annotated[str, Field(description="a section_id from search or an outline")],
    ) -> Annotated[CallToolResult, RelatedOutput]:
        """The graph around a section: its parent, its siblings, the documents it links to and
        the sections that link to its document."""
        return calls.run("related", {"section_id": section_id},
                         lambda: reader.related(section_id),
                         lambda m: len(m.links_out) + len(m.links_in) + len(m.siblings))


def _add_queue_tools(server: MCPServer[Any], library: Library, calls: _Calls,
                     settings: IngestSettings) -> None:
    @server.tool(annotations=READ_ONLY, structured_output=True)
    def queue_status() -> Annotated[CallToolResult, QueueStatus]:
        """The ingestion queue: jobs per state, stale leases, live workers, dead jobs, age of
        the oldest pending job (what `ingestctl status --json` says)."""
        def status() -> tuple[QueueStatus, str]:
            from ingestq.ops.status import queue_status as read_status

            report = read_status(library.queue())
            out = QueueStatus(queue=report.queue, counts=report.counts,
                              oldest_pending_age_seconds=report.oldest_pending_age_seconds,
                              stale=report.stale, live_workers=report.live_workers,
                              dead=report.counts.get("dead", 0), warnings=report.warnings)
            return out, render.queue_status(out)

        return calls.run("queue_status", {}, status, lambda m: 1)

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False,
                                             idempotent_hint=True, open_world_hint=False),
                 structured_output=True)
    def ingest(
        paths: Annotated[list[str], Field(description=(
            "files or folders inside the configured roots (ingest.pipeline.roots)"))],
        collection: Annotated[str | None, Field(description=(
            "collection label for these files; default: their root's"))] = None,
        version: Annotated[str | None, Field(description=(
            "version label for these files (any string, no '*'); default: their root's"))
        ] = None,
    ) -> Annotated[CallToolResult, IngestOutput]:
        """Enqueue files for ingestion (off unless mcp.allow_ingest is true). Workers ingest
        them; search sees them on the next call once done."""
        def enqueue() -> tuple[IngestOutput, str]:
            from ingestq.ingest.submit import submit_paths

            if not settings.mcp.allow_ingest:
                raise Refused("the ingest tool is off: an operator sets ingest.mcp.allow_ingest:"
                              " true (and ingest.pipeline.roots) to allow it")
            if not paths:
                raise Refused("paths is empty: name files or folders inside the roots "
                              f"{settings.pipeline.root_paths}")
            done = submit_paths(library.queue(), settings.pipeline, paths,
                                collection=collection, version=version, what="the ingest tool")
            jobs = [EnqueuedJob(id=r.id, created=r.created, path=f)
                    for r, f in zip(done.results, done.files, strict=True)]
            out = IngestOutput(files=len(done.files), missing=done.missing, jobs=jobs)
            return out, render.ingest(out)

        return calls.run("ingest", {"paths": paths}, enqueue, lambda m: len(m.jobs))


def _add_resources(server: MCPServer[Any], library: Library) -> None:
    @server.resource(DOCUMENT_URI, name="document", mime_type="text/markdown",
                     description="An ingested document as Markdown: its sections in order.")
    def document(document_id: str) -> str:
        try:
            found = library.resolve_document(document_id)
            sections = library.section_texts(found.document_id)
        except (IngestqError, sqlite3.Error) as exc:
            raise ResourceError(_failure_hint(exc)) from exc
        blocks = [f"<!-- {found.path}{render.labels(found)} · ingested {found.ingested_at} -->"]
        for level, title, text in sections:
            heading = f"{'#' * level} {title}" if level and title else ""
            blocks.append("\n\n".join(part for part in (heading, text.strip()) if part))
        return "\n\n".join(blocks) + "\n"


def document_uri(document_id: str) -> str:
    """The resource URI of a document."""
    return DOCUMENT_URI.format(document_id=document_id)

