"""The read tools' logic: search, get_section, get_document, list_documents, related.

Each returns the typed result and its Markdown rendering; :mod:`.server` publishes them. Budgets
(:mod:`.budget`) cut at whole hits, whole outline entries and sentence ends, and the cursors they
hand out continue where the reply stopped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ingestq.mcp import render
from ingestq.mcp.budget import (
    Counter,
    decode_cursor,
    decode_keyed,
    effective_budget,
    encode_cursor,
    encode_keyed,
    fingerprint,
    fit,
    pieces,
    take_pieces,
)
from ingestq.mcp.library import Library, Refused, iso_time
from ingestq.mcp.models import (
    DocumentList,
    DocumentOutput,
    Hit,
    LinkIn,
    LinkOut,
    RelatedOutput,
    SearchOutput,
    SectionOutput,
    SectionRef,
)

MAX_QUERY_CHARS = 1000  # a question, not a document: longer queries only slow both rankings
MAX_K = 50
MAX_LIST = 200
PREFIX_OVERFETCH = 8  # path_prefix filters after ranking: rank this many times k, keep matches
_SHORT_SNIPPET_WORDS = 24
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


@dataclass(frozen=True)
class Reader:
    """The read tools over one library, with the server's counter and token ceiling."""

    library: Library
    counter: Counter
    ceiling: int

    def search(self, query: str, k: int, path_prefix: str | None, max_tokens: int | None,
               cursor: str | None, collection: str | None = None, version: str | None = None
               ) -> tuple[SearchOutput, str]:
        """Hybrid search, budgeted; the hits of every page joined are the unbudgeted hits."""
        query = _checked_query(query)
        if not 1 <= k <= MAX_K:
            raise Refused(f"k must be between 1 and {MAX_K} (got {k}): ask for fewer hits and "
                          "page with next_cursor, or narrow with path_prefix")
        budget = effective_budget(max_tokens, self.ceiling)
        owner = fingerprint("search", query, k, path_prefix, collection, version)
        offset = decode_cursor(cursor, owner)
        hits = self._ranked(query, k, path_prefix, collection, version)
        page = hits[offset:]
        shown, text, tokens = self._pack_hits(query, page, offset, budget)
        omitted = len(page) - len(shown)
        next_cursor = encode_cursor(offset + len(shown), owner) if omitted else None
        if omitted:  # the footer was reserved for in packing
            text += _footer(render.more_line(omitted, next_cursor, "hits"))
            tokens = self.counter.count(text)
        out = SearchOutput(query=query, hits=shown, truncated=bool(omitted), omitted=omitted,
                           next_cursor=next_cursor, tokens=tokens)
        return out, text

    def _ranked(self, query: str, k: int, path_prefix: str | None, collection: str | None,
                version: str | None) -> list[Hit]:
        from ingestq.ingest.search import search

        pipeline = self.library.pipeline()
        self.library.scope(collection, version)  # a selection naming nothing says so
        wanted = k * PREFIX_OVERFETCH if path_prefix else k
        results = search(pipeline, query, wanted, collection=collection, version=version)
        if path_prefix:
            results = [r for r in results if r.source_path.startswith(path_prefix)][:k]
        if not results and not self.library.document_ids():
            raise Refused("nothing has been ingested yet: ingest documents first (ingestctl "
                          "ingest PATH, or the ingest tool), then search again")
        fresh = self.library.freshness([r.section_id for r in results])
        hits = []
        for rank, r in enumerate(results, 1):
            ingested, content_hash = fresh.get(r.section_id, (0.0, ""))
            hits.append(Hit(
                rank=rank, score=round(r.score, 6), section_id=r.section_id,
                document_id=r.document_id, collection=r.collection, version=r.version,
                path=r.source_path, title=r.title,
                heading_path=list(r.heading_path), anchor=r.anchor,
                url=f"{r.source_path}#{r.anchor}" if r.anchor else r.source_path,
                snippet=r.snippet, ingested_at=iso_time(ingested), content_hash=content_hash))
        return hits

    def _pack_hits(self, query: str, page: list[Hit], offset: int, budget: int
                   ) -> tuple[list[Hit], str, int]:
        # Full snippets if all fit; else shorter snippets; else drop the lowest hits.
        for shorten in (False, True):  # the shortened copies only when the full ones overflow
            hits = [_shortened(h) for h in page] if shorten else page
            text = _hits_text(query, hits, offset)
            tokens = self.counter.count(text)
            if tokens <= budget:
                return hits, text, tokens
        reserve = self.counter.count(render.more_line(len(page), "x" * 60, "hits"))
        header = render.search_header(query, len(page), offset + 1)
        taken = fit([render.hit_block(h) for h in hits], budget - reserve, header,
                    self.counter.count)
        while taken > 1 and self.counter.count(_hits_text(query, hits[:taken], offset)) + \
                reserve > budget:
            taken -= 1
        text = _hits_text(query, hits[:taken], offset)
        return hits[:taken], text, self.counter.count(text)

    def section(self, section_id: str, context: str, max_tokens: int | None, part: int
                ) -> tuple[SectionOutput, str]:
        """A section's text (or one part of it) with its neighbourhood."""
        if context not in ("neighbours", "none"):
            raise Refused(f"context must be 'neighbours' or 'none' (got {context!r})")
        budget = effective_budget(max_tokens, self.ceiling)
        row = self.library.section_row(section_id.strip())
        all_pieces = pieces(str(row["text"]))
        if part < 0 or (part and part >= len(all_pieces)):
            raise Refused(f"part {part} is outside this section (parts start at 0 and end "
                          f"before {len(all_pieces)}): use the next_part a reply gave")
        near = self.library.neighbours(row) if context == "neighbours" else (None, None, None, [])
        out = _section_output(row, near)
        # The neighbourhood is in the structured result in full; the text header gives way to
        # the section's own text when the budget is tight.
        header = next(h for h in (render.section_header(out, detail) for detail in (2, 1, 0))
                      if self.counter.count(h) <= budget // 2 or h.count("\n") <= 1)
        footer = render.part_footer(out.model_copy(update={"next_part": len(all_pieces)}))
        room = budget - self.counter.count(header) - self.counter.count(footer)
        end = take_pieces(all_pieces, part, max(room, 1), self.counter.count)
        while True:
            out = out.model_copy(update={
                "text": "".join(all_pieces[part:end]), "part": part,
                "next_part": end if end < len(all_pieces) else None,
                "truncated": end < len(all_pieces) or part > 0})
            text = f"{header}\n\n{out.text.strip()}" + _footer(render.part_footer(out))
            if self.counter.count(text) <= budget or end == part + 1:
                return out.model_copy(update={"tokens": self.counter.count(text)}), text
            end -= 1

    def document(self, path_or_id: str, max_tokens: int | None, cursor: str | None
                 ) -> tuple[DocumentOutput, str]:
        """A document's outline, whole headings only, continued by cursor."""
        budget = effective_budget(max_tokens, self.ceiling)
        doc = self.library.resolve_document(path_or_id)
        owner = fingerprint("get_document", doc.document_id)
        offset = decode_cursor(cursor, owner)
        entries = self.library.outline(doc.document_id)[offset:]
        header = (f"# {doc.title}\n`{doc.path}` · document_id `{doc.document_id}`"
                  f"{render.labels(doc)} · "
                  f"{doc.section_count} sections · ingested {doc.ingested_at}")
        reserve = self.counter.count(render.more_line(len(entries), "x" * 60, "headings"))
        lines = [render.outline_line(e) for e in entries]
        taken = fit(lines, budget - reserve, header, self.counter.count, "\n")
        omitted = len(entries) - taken
        next_cursor = encode_cursor(offset + taken, owner) if omitted else None
        text = header + "\n\n" + "\n".join(lines[:taken]) + _footer(
            render.more_line(omitted, next_cursor, "headings"))
        out = DocumentOutput(
            document_id=doc.document_id, collection=doc.collection, version=doc.version,
            path=doc.path, title=doc.title,
            ingested_at=doc.ingested_at, checksum=doc.checksum, section_count=doc.section_count,
            sections=entries[:taken], truncated=bool(omitted), omitted=omitted,
            next_cursor=next_cursor, tokens=self.counter.count(text))
        return out, text

    def documents(self, path_prefix: str | None, limit: int, cursor: str | None,
                  collection: str | None = None, version: str | None = None
                  ) -> tuple[DocumentList, str]:
        """A page of documents by path; the cursor continues after the last one shown."""
        if not 1 <= limit <= MAX_LIST:
            raise Refused(f"limit must be between 1 and {MAX_LIST} (got {limit})")
        owner = fingerprint("list_documents", path_prefix, collection, version)
        after = _after_path(cursor, owner)
        scope = self.library.scope(collection, version)
        docs = self.library.documents(path_prefix, after, limit + 1, scope)
        more = len(docs) > limit
        docs = docs[:limit]
        next_cursor = (encode_keyed(f"{docs[-1].path}{_KEY_SEPARATOR}{docs[-1].document_id}",
                                    owner) if more else None)
        out = DocumentList(documents=docs, next_cursor=next_cursor)
        return out, render.document_list(out)

    def related(self, section_id: str) -> tuple[RelatedOutput, str]:
        """Parent, siblings, links out and links in of a section."""
        row = self.library.section_row(section_id.strip())
        graph = self.library.pipeline().graph
        if graph is not None:
            out = _from_graph(graph.neighbourhood(str(row["id"])), row)
        else:
            out = self._from_sqlite(row)
        return out, render.related(out)

    def _from_sqlite(self, row: dict[str, object]) -> RelatedOutput:
        lib = self.library
        parent_id, sid = row["parent_id"], row["id"]
        parent = lib.section_refs("id = ?", (parent_id,)) if parent_id else []
        if parent_id:
            siblings = lib.section_refs("parent_id = ? AND id != ?", (parent_id, sid))
        else:
            siblings = lib.section_refs("document_id = ? AND parent_id IS NULL AND id != ?",
                                        (row["document_id"], sid))
        links = [list(link) for link in row["links"]]  # type: ignore[attr-defined]
        paths = lib.paths_of([str(t) for _, _, t in links if t])
        links_out = [LinkOut(href=str(h), text=str(t), target_document_id=target,
                             target_path=paths.get(target) if target else None)
                     for h, t, target in links]
        links_in = [_link_in(*found) for found in lib.links_in(str(row["document_id"]))]
        return RelatedOutput(section_id=str(sid), document_id=str(row["document_id"]),
                             source="sqlite", parent=parent[0] if parent else None,
                             siblings=siblings, links_out=links_out, links_in=links_in)


def _checked_query(query: str) -> str:
    query = query.strip()
    if not query:
        raise Refused("query is empty: say what to look for, e.g. 'declare a request body'")
    if len(query) > MAX_QUERY_CHARS:
        raise Refused(f"query is {len(query)} characters, over {MAX_QUERY_CHARS}: search with "
                      "the key words or one question, not a whole text")
    return query


_KEY_SEPARATOR = "\n"  # split at the last one: a document id (hex) never holds it


def _after_path(cursor: str | None, owner: str) -> tuple[str, str] | None:
    if not cursor:
        return None
    path, _, document_id = decode_keyed(cursor, owner).rpartition(_KEY_SEPARATOR)
    return path, document_id


def _shortened(hit: Hit) -> Hit:
    words = hit.snippet.split()
    first = _SENTENCE_END.split(" ".join(words), maxsplit=1)[0]
    if len(first.split()) > _SHORT_SNIPPET_WORDS:
        first = " ".join(first.split()[:_SHORT_SNIPPET_WORDS]) + " …"
    return hit.model_copy(update={"snippet": first})


def _hits_text(query: str, hits: list[Hit], offset: int) -> str:
    blocks = [render.search_header(query, len(hits), offset + 1)]
    blocks += [render.hit_block(h) for h in hits]
    return "\n\n".join(blocks)


def _footer(line: str) -> str:
    return f"\n\n{line}" if line else ""


def _section_output(row: dict[str, object], near: tuple[SectionRef | None, SectionRef | None,
                                                        SectionRef | None, list[SectionRef]]
                    ) -> SectionOutput:
    path, anchor = str(row["path"]), str(row["anchor"])
    parent, previous, following, children = near
    return SectionOutput(
        section_id=str(row["id"]), document_id=str(row["document_id"]), path=path,
        collection=str(row["collection"]), version=str(row["version"]),
        url=f"{path}#{anchor}" if anchor else path, title=str(row["title"]),
        heading_path=list(row["heading_path"]),  # type: ignore[call-overload]
        level=int(str(row["level"])), token_count=int(str(row["token_count"])), text="",
        ingested_at=iso_time(float(str(row["ingested_at"]))),
        content_hash=str(row["content_hash"]), truncated=False, tokens=0, parent=parent,
        previous=previous, next=following, children=children)


def _link_in(section_id: str, document_id: str, path: str, title: str, anchor: str
             ) -> LinkIn:
    return LinkIn(section_id=section_id, document_id=document_id, path=path, title=title,
                  anchor=anchor)


def _from_graph(found: dict[str, Any], row: dict[str, object]) -> RelatedOutput:
    def refs(key: str) -> list[SectionRef]:
        return [SectionRef(section_id=str(i["id"]), title=str(i["title"]),
                           anchor=str(i["anchor"]), level=int(i["level"]))
                for i in found.get(key) or [] if i and i.get("id")]

    parent = refs("parent")
    links_out = [LinkOut(href=str(link["href"]), text=str(link["text"]),
                         target_document_id=link.get("target_id"),
                         target_path=link.get("target_path"))
                 for link in found.get("links_out") or []]
    links_in = [_link_in(str(i["section_id"]), str(i["document_id"]), str(i["path"]),
                         str(i["title"]), str(i["anchor"]))
                for i in found.get("links_in") or []]
    return RelatedOutput(section_id=str(row["id"]), document_id=str(row["document_id"]),
                         source="neo4j", parent=parent[0] if parent else None,
                         siblings=refs("siblings"), links_out=links_out, links_in=links_in)
