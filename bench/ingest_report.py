"""Markdown for bench/ingest.py's figures, and the swap of its own section of RESULTS.md.

Other benchmarks write their own sections of the same file, so only the text between the
``ingest`` markers is ever replaced; the file is re-read right before writing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

START = "<!-- ingest:start -->"
END = "<!-- ingest:end -->"
NAMES = {"hashing": "hashing", "sentence-transformers": "MiniLM"}


CPU = "cpu_seconds"


def _name(kind: str) -> str:
    return NAMES.get(kind, kind)


def _rate(count: float, seconds: float) -> str:
    return f"{count / seconds:,.1f}" if seconds else "-"


def _runs_table(runs: dict[str, Any]) -> list[str]:
    lines = [
        "| embedder | workers | handler threads/worker | torch threads/worker | files | wall s "
        "| start-up s | files/s | sections/s | chunks/s | dead | peak RSS per worker (MiB) "
        "| CPU s per worker | other load (cores) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, r in runs.items():
        if key.endswith(("/re", "/rejobs")):
            continue
        rss = ", ".join(f"{p['peak_rss_mib']:.0f}" for p in r["worker_procs"])
        wall = r["wall_seconds"]
        lines.append(
            f"| {_name(r['embedder'])} | {r['workers']} | {r.get('concurrency') or 8} "
            f"| {r['threads_per_worker'] or 'default'} "
            f"| {r['files']} | {wall:.1f} | {r['first_job_after_seconds']:.1f} "
            f"| {_rate(r['files'], wall)} | {_rate(r['sections'], wall)} "
            f"| {_rate(r['chunks'], wall)} | {len(r['dead'])} | {rss} "
            f"| {', '.join(f'{p.get(CPU, 0):.0f}' for p in r['worker_procs'])} "
            f"| {r.get('others_cores', '-')} |")
    return lines


def _dead_lines(runs: dict[str, Any]) -> list[str]:
    lines = []
    for key, r in runs.items():
        for d in r["dead"]:
            lines.append(f"- `{key}`: `{d['path']}`: {d['reason']}: {d['error']}")
    return lines or ["No job ended dead in any run."]


def _reingest_table(runs: dict[str, Any]) -> list[str]:
    lines = [
        "| run | how | first run wall s | re-ingest wall s | % of first | "
        "first run active s | re-ingest active s | % of first | unchanged (not enqueued / "
        "skipped by a worker) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, re_run in runs.items():
        base, _, suffix = key.rpartition("/")
        if suffix not in ("re", "rejobs"):
            continue
        first = runs[base]
        if suffix == "rejobs":
            how = "every job enqueued anyway (`watch`, `enqueue`): worker-side skip"
        elif "unchanged_at_enqueue" in re_run:
            how = f"`ingestctl ingest --workers {first['workers']}`"
        else:
            how = "jobs enqueued again (before `ingestctl ingest` checked)"
        wall_pct = 100 * re_run["wall_seconds"] / first["wall_seconds"]
        active_pct = (100 * re_run["active_seconds"] / first["active_seconds"]
                      if first["active_seconds"] else 0.0)
        at_enqueue = re_run.get("unchanged_at_enqueue", 0)
        lines.append(
            f"| {base} | {how} | {first['wall_seconds']:.1f} "
            f"| {re_run['wall_seconds']:.2f} | {wall_pct:.1f}% | {first['active_seconds']:.1f} "
            f"| {re_run['active_seconds']:.2f} | {active_pct:.1f}% "
            f"| {at_enqueue} / {re_run['skipped'] - at_enqueue} of {re_run['files']} |")
    return lines


def comparable(data: dict[str, Any], kind: str, run: dict[str, Any]) -> bool:
    """Whether ``run`` embedded the chunk texts the embedder-alone figure embedded."""
    alone = data.get("alone", {}).get(kind, {})
    chunks = alone.get("chunks", data.get("corpus", {}).get("chunks", 0))
    return int(run.get("chunks", 0)) == int(chunks)


def _overhead_table(data: dict[str, Any]) -> list[str]:
    lines = [
        "| embedder | distinct chunk texts | embedder alone s (texts/s) | 1-worker pipeline "
        "wall s | overhead (wall) | overhead (CPU s) | in-process pipeline s | in-process "
        "overhead (wall) | in-process overhead (CPU s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for kind, alone in data.get("alone", {}).items():
        run = data["runs"].get(f"{kind}/1w")
        steps = data.get("steps", {}).get(kind)
        embed_s = alone["embed_seconds"]
        embed_cpu = alone.get(CPU, 0.0)
        cells = [_name(kind), f"{alone['texts']:,}",
                 f"{embed_s:.1f} ({alone['texts_per_second']:,.1f}); {embed_cpu:.0f} CPU s; "
                 f"batch {alone.get('batch_size') or '-'}; "
                 f"other load {alone.get('others_cores', '-')} cores"]
        if run and not comparable(data, kind, run):
            cells += [f"{run['wall_seconds']:.1f}", "not comparable: chunked differently",
                      "-"]
        elif run:
            wall = run["wall_seconds"]
            cpu = sum(p.get(CPU, 0.0) for p in run["worker_procs"])
            cells += [f"{wall:.1f}", _pct(wall, embed_s), _pct(cpu, embed_cpu)]
        else:
            cells += ["-", "-", "-"]
        if steps:
            cells += [f"{steps['wall_seconds']:.1f}", _pct(steps["wall_seconds"], embed_s),
                      _pct(steps.get(CPU, 0.0), embed_cpu)]
        else:
            cells += ["-", "-", "-"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _pct(value: float, base: float) -> str:
    return f"{100 * (value / base - 1):+.1f}%" if base and value else "-"


def _steps_table(data: dict[str, Any]) -> list[str]:
    lines = [
        "| embedder | wall s | skip_unchanged s | parse s | embed s (model / cache) | write s "
        "| model calls | texts embedded |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for kind, s in data.get("steps", {}).items():
        st = s["steps"]
        lines.append(
            f"| {_name(kind)} | {s['wall_seconds']:.1f} | {st.get('skip_unchanged', 0):.2f} "
            f"| {st.get('parse', 0):.1f} | {st.get('embed', 0):.1f} ({s['model_seconds']:.1f} / "
            f"{s['embed_cache_seconds']:.2f}) | {st.get('write', 0):.1f} | {s['model_calls']} "
            f"| {s['model_texts']:,} |")
    return lines


def _header(data: dict[str, Any]) -> list[str]:
    m = data["machine"]
    return [
        START,
        "## Ingestion pipeline (issue 6)",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']:.0f} GiB; Python "
        f"{m['python']}, torch {m['torch']}, sentence-transformers {m['sentence_transformers']},"
        f" SQLite {m['sqlite']}; commit `{m['commit']}`.",
        "",
        "Embedded default (embedded Valkey, one SQLite store), a fresh data directory per "
        "configuration, jobs enqueued as `ingestctl ingest` does, drained by real "
        "`ingestctl worker --burst --kinds file` processes (default concurrency: 8 handler "
        "threads each). Wall time runs from spawning the workers to the last one exiting; "
        "start-up is spawn to first job started (imports; the model loads inside the first "
        "job). Rates are per wall second. Peak RSS is each worker's VmHWM (polled every "
        "0.2 s), CPU s its rusage (wait4). Other load is the CPU that processes outside the "
        "measurement used meanwhile "
        "(from /proc/stat), in cores of the 2: when it is above 0, wall times are inflated and "
        "the CPU-second figures are the fairer comparison.",
        "",
    ]


def _dataset(data: dict[str, Any]) -> list[str]:
    c = data.get("corpus", {})
    return [
        f"### `{data['corpus_path']}`",
        "",
        "Commands (in order, each adding its figures): "
        + "; ".join(f"`{c}`" for c in data.get("commands", [data.get("command", "?")]))
        + f"; last {data['date']}.  ",
        f"Corpus: {c.get('files', '?')} files, {c.get('sections', 0):,} sections, "
        f"{c.get('chunks', 0):,} chunks ({c.get('distinct_texts', 0):,} distinct texts); "
        f"parsing it alone takes {c.get('parse_seconds', 0):.1f} s in one process.",
        "",
        "#### Throughput",
        "",
        *_runs_table(data["runs"]),
        "",
        *_dead_lines(data["runs"]),
        "",
        "#### Re-ingesting the unchanged corpus (goal: under 5% of the first run)",
        "",
        "Same store, the same number of workers. `ingestctl ingest`: the real command "
        "(`ingestctl ingest CORPUS --json --workers N`) timed from outside, interpreter start "
        "included; it enqueues only files whose checksum or embedder differs from the "
        "manifest's, so with nothing changed it starts no worker. Worker-side skip: every job "
        "enqueued again and drained by N `ingestctl worker --burst` processes (start-up "
        "included). Active time is first job started to last job finished (no process "
        "start-up; 0 when no job ran).",
        "",
        *_reingest_table(data["runs"]),
        "",
        "#### Pipeline overhead over the embedder alone (goal: under 15% with MiniLM)",
        "",
        "Embedder alone: `embedder.embed` over every distinct chunk text in one call (batched "
        "by its `batch_size`, given per row), one process, model already loaded, the texts "
        "chunked as that embedder's workers chunk them. In-process pipeline: "
        "`Pipeline.ingest_file` file by file in one thread on a fresh store, no queue.",
        "",
        *_overhead_table(data),
        "",
        "Where the in-process pipeline's time goes (sums over all files):",
        "",
        *_steps_table(data),
        "",
        *_batching_lines(data),
    ]


def _batching_lines(data: dict[str, Any]) -> list[str]:
    lines = []
    for kind, b in data.get("batching", {}).items():
        shapes = ", ".join(f"{k.rsplit('_', 1)[1]} document(s) per call: {v:.1f} s"
                           for k, v in b.items() if k.startswith("docs_per_call_"))
        lines.append(f"Embedder calls shaped as the pipeline makes them, {_name(kind)}, "
                     f"{b['texts']:,} texts: {shapes}.")
    return [*lines, ""] if lines else []


def render(datasets: list[dict[str, Any]], notes: list[str]) -> str:
    """The whole ingest section, markers included: one part per measured corpus."""
    body = _header(datasets[0])
    for data in datasets:
        body += _dataset(data)
    return "\n".join([*body, *notes, END]) + "\n"


def replace_section(results_md: Path, section: str) -> None:
    """Put ``section`` between the ingest markers of ``results_md``; touch nothing else."""
    text = results_md.read_text(encoding="utf-8") if results_md.exists() else ""
    if START in text and END in text:
        head, rest = text.split(START, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        text = head + section + ("\n" + tail if tail else "")
    else:
        text = (text.rstrip("\n") + "\n\n" if text.strip() else "# Benchmark results\n\n") + section
    results_md.write_text(text, encoding="utf-8")
