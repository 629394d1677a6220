"""Short Markdown renderings of tool results: the text content an assistant reads.

The typed result travels once, in ``structured_content``; these renderings carry what a model
needs to act (titles, ``path#anchor``, snippets, ids to pass on) and never the JSON again.
"""

from __future__ import annotations

from ingestq.mcp.models import (
    DocumentList,
    Hit,
    IngestOutput,
    Labelled,
    OutlineEntry,
    QueueStatus,
    RelatedOutput,
    SectionOutput,
    SectionRef,
)


def labels(item: Labelled) -> str:
    """" · collection version" when the item has labels; nothing for unlabelled stores."""
    named = " ".join(v for v in (item.collection, item.version) if v)
    return f" · {named}" if named else ""


def hit_block(hit: Hit) -> str:
    """One search hit: rank, heading path, url, ids and the snippet."""
    where = " > ".join(hit.heading_path) or hit.title
    snippet = " ".join(hit.snippet.split())
    lines = [f"{hit.rank}. **{where}** — `{hit.url}`",
             f"   section_id `{hit.section_id}`{labels(hit)} · ingested {hit.ingested_at}"]
    if snippet:
        lines.append(f"   {snippet}")
    return "\n".join(lines)


def search_header(query: str, shown: int, first_rank: int) -> str:
    """The line above the hits."""
    if not shown:
        return f"No hits for “{query}”."
    last = first_rank + shown - 1
    return f"Hits {first_rank}–{last} for “{query}”:"


def more_line(omitted: int, cursor: str | None, what: str) -> str:
    """The footer that says what was left out and how to continue."""
    if not omitted or cursor is None:
        return ""
    return (f"({omitted} more {what} left out to fit max_tokens: call again with "
            f"cursor=\"{cursor}\")")


def _ref(label: str, ref: SectionRef | None) -> str:
    return f"{label}: {ref.title} (`{ref.section_id}`)" if ref else ""


def section_header(out: SectionOutput, detail: int = 2) -> str:
    """Title, url, freshness and (detail 1) parent, previous, next and (detail 2) children."""
    where = " > ".join(out.heading_path) or out.title
    lines = [f"## {where}", f"`{out.url}` · section_id `{out.section_id}`{labels(out)} · ingested "
             f"{out.ingested_at} · content_hash {out.content_hash[:12]}"]
    if detail < 1:
        return "\n".join(lines)
    near = [_ref("parent", out.parent), _ref("previous", out.previous), _ref("next", out.next)]
    lines += [line for line in near if line]
    if out.children and detail >= 2:
        shown = ", ".join(f"{c.title} (`{c.section_id}`)" for c in out.children[:8])
        extra = f" and {len(out.children) - 8} more" if len(out.children) > 8 else ""
        lines.append(f"children: {shown}{extra}")
    return "\n".join(lines)


def part_footer(out: SectionOutput) -> str:
    """Where a long section continues."""
    if out.next_part is None:
        return ""
    return (f"(section continues: call get_section again with part={out.next_part}; "
            f"this is part {out.part})")


def outline_line(entry: OutlineEntry) -> str:
    """One heading of an outline, indented by level."""
    indent = "  " * max(entry.level - 1, 0)
    title = entry.title or "(preamble)"
    return f"{indent}- {title} · `{entry.section_id}` · {entry.token_count} tokens"


def document_list(out: DocumentList) -> str:
    """A page of documents."""
    if not out.documents:
        return "No documents match."
    lines = [f"- {d.title} — `{d.path}` · document_id `{d.document_id}`{labels(d)} · "
             f"{d.section_count} sections · ingested {d.ingested_at}" for d in out.documents]
    if out.next_cursor:
        lines.append(f"(more: call again with cursor=\"{out.next_cursor}\")")
    return "\n".join(lines)


def related(out: RelatedOutput) -> str:
    """The graph around a section."""
    lines = [f"Around section `{out.section_id}` (from {out.source}):"]
    if out.parent:
        lines.append(_ref("parent", out.parent))
    if out.siblings:
        lines.append("siblings: " + ", ".join(f"{s.title} (`{s.section_id}`)"
                                              for s in out.siblings[:20]))
    for link in out.links_out[:30]:
        target = f" → `{link.target_path}`" if link.target_path else ""
        lines.append(f"links to: [{link.text}]({link.href}){target}")
    for back in out.links_in[:30]:
        lines.append(f"linked from: {back.title} — `{back.path}#{back.anchor}` "
                     f"(`{back.section_id}`)")
    return "\n".join(lines)


def queue_status(out: QueueStatus) -> str:
    """The queue in two lines plus warnings."""
    counts = ", ".join(f"{state} {n}" for state, n in out.counts.items())
    lines = [f"Queue `{out.queue}`: {counts}.",
             f"Oldest pending {out.oldest_pending_age_seconds:.0f} s; {out.stale} stale; "
             f"{out.live_workers} live worker(s)."]
    lines += [f"warning: {w}" for w in out.warnings]
    return "\n".join(lines)


def ingest(out: IngestOutput) -> str:
    """What was enqueued."""
    created = sum(1 for j in out.jobs if j.created)
    text = f"Enqueued {created} file job(s) ({out.files} file(s) found)."
    if out.missing:
        text += " Not found: " + ", ".join(out.missing[:10])
    return text
