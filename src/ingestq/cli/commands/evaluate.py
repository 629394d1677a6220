"""`eval`: run a golden set through search and report nDCG, recall, MRR, latency; a CI gate."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from ingestq.cli.context import EXIT_PROBLEM, out, print_json, state, usage_error

if TYPE_CHECKING:  # numpy, SQLite and the embedders load only when the command runs
    from ingestq.ingest.eval_metrics import Hit, Scores
    from ingestq.ingest.eval_run import EvalReport, QueryResult
    from ingestq.mcp.client import Target

VIA = ("in-process", "mcp", "http")


def eval_golden(
    golden: Path = typer.Argument(..., exists=True, dir_okay=False,
                                  help="Golden set: JSON lines {id, query, type?, judgments}."),
    k: int = typer.Option(10, "--k", "-k", min=1, max=200, help="Cut-off of every metric."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable report."),
    min_ndcg: float = typer.Option(None, "--min-ndcg", min=0.0, max=1.0,
                                   help="Exit 1 when page-level nDCG@k is below this."),
    root: Path = typer.Option(None, "--root", file_okay=False,
                              help="Folder the golden paths are relative to "
                                   "(default: the deepest folder holding every stored page)."),
    worst: int = typer.Option(5, "--worst", min=0, help="Worst queries to show."),
    via: str = typer.Option("in-process", "--via",
                            help="in-process (default); mcp: through `ingestctl mcp` over "
                                 "stdio; http: through the service's /mcp (see --url). Both "
                                 "compare every ranking with in-process search."),
    url: str = typer.Option(None, "--url",
                            help="With --via http: the /mcp URL (default: the configured "
                                 "service, http://HOST:PORT/mcp). The token is "
                                 "ingest.service.token / INGESTQ_SERVICE_TOKEN."),
) -> None:
    """Evaluate search on a golden set through the real search path, or through MCP.

    Example: ingestctl eval bench/golden/fastapi-en.jsonl --min-ndcg 0.6
    """
    from ingestq.cli.commands.ingest import _pipeline
    from ingestq.ingest.eval_local import default_root, known_targets, pipeline_search
    from ingestq.ingest.eval_run import load_golden, run_eval

    target = _target(via, url, k, as_json)
    queries = load_golden(golden)
    pipeline = _pipeline()
    base = root.resolve() if root else default_root(list(pipeline.manifest.source_paths().values()))
    local, known = pipeline_search(pipeline, base), known_targets(pipeline, base)
    if target is None:
        report = run_eval(queries, local, k=k, known=known)
    else:
        import gc

        from ingestq.mcp.client import blocking, eval_search

        with blocking(target) as remote:
            # This process holds the store and the SDK's client: no collection during a timed
            # call need walk them (it added about 1 ms to each transport call, bench/mcp.py)
            gc.freeze()
            report = run_eval(queries, eval_search(remote, base), k=k, known=known,
                              baseline=local)
    page_ndcg = report.overall["page"].ndcg
    gate = min_ndcg is None or page_ndcg >= min_ndcg
    passed = gate and not report.differing
    if as_json:
        print_json({**report_json(report, worst), "root": str(base), "min_ndcg": min_ndcg,
                    "passed": passed, "via": via, "transport": _transport_json(report, target)})
    else:
        _render(report, base, worst)
        if target is not None:
            _render_transport(report, target)
        if min_ndcg is not None:
            verdict = "passed" if gate else "[red]FAILED[/red]"
            out.print(f"gate: page nDCG@{k} {page_ndcg:.3f} vs --min-ndcg {min_ndcg:.3f}: "
                      f"{verdict}")
    if not passed:
        raise typer.Exit(EXIT_PROBLEM)


def _target(via: str, url: str | None, k: int, as_json: bool) -> Target | None:
    """What --via and --url name; usage errors before anything is opened."""
    if via not in VIA:
        usage_error(f"--via must be one of {', '.join(VIA)} (got {via!r})", as_json=as_json)
    if url and via != "http":
        usage_error("--url goes with --via http", as_json=as_json)
    if via == "in-process":
        return None
    from ingestq.mcp.client import Target
    from ingestq.mcp.reading import MAX_K

    if k > MAX_K:
        usage_error(f"--via {via} asks the search tool, which returns at most {MAX_K} hits: "
                    f"use --k {MAX_K} or less", as_json=as_json)
    if via == "mcp":
        return Target("mcp")
    service = state.config.ingest.service
    return Target("http", url=url or service.local_url("/mcp"), token=service.token)


def report_json(report: EvalReport, worst: int) -> dict[str, Any]:
    """The report as JSON-ready data."""
    return {
        "k": report.k,
        "queries": len(report.results),
        "overall": {lv: dataclasses.asdict(s) for lv, s in report.overall.items()},
        "by_type": {t: {lv: dataclasses.asdict(s) for lv, s in per.items()}
                    for t, per in report.by_type.items()},
        "latency_ms": report.latency_ms,
        "unknown_judgments": [dataclasses.asdict(u) for u in report.unknown],
        "unscored": report.unscored,
        "worst": [{"id": r.query.id, "query": r.query.query,
                   "ndcg": {lv: s.ndcg for lv, s in r.scores.items()},
                   "hits": [f"{h.path}#{h.anchor}" for h in r.hits]}
                  for r in report.worst(worst)],
    }


def _transport_json(report: EvalReport, target: Target | None) -> dict[str, Any] | None:
    """Parity, added latency and tokens per query; None in process."""
    if target is None:
        return None
    from ingestq.ingest.eval_metrics import percentile
    from ingestq.mcp.budget import counter_for

    tokens = [float(r.tokens or 0) for r in report.results]
    return {
        "url": target.url,
        "counter": counter_for(state.config.ingest.pipeline.embedder).name,
        "equal_rankings": len(report.results) - len(report.differing),
        "queries": len(report.results),
        "in_process_latency_ms": report.baseline_latency_ms,
        "added_latency_ms": report.added_ms,
        "tokens": {"p50": percentile(tokens, 50), "p95": percentile(tokens, 95),
                   "max": max(tokens, default=0.0)},
        "per_query": [_query_json(r) for r in report.results],
    }


def _query_json(r: QueryResult) -> dict[str, Any]:
    assert r.baseline is not None  # every query of a --via run has one
    base, rank = r.baseline, r.baseline.first_difference
    return {"id": r.query.id, "equal": rank is None, "first_difference": rank,
            "in_process": _at(base.hits, rank), "via": _at(r.hits, rank),
            "ms": r.seconds * 1000.0, "in_process_ms": base.seconds * 1000.0,
            "added_ms": (r.seconds - base.seconds) * 1000.0, "tokens": r.tokens,
            "calls": r.calls}


def _at(hits: tuple[Hit, ...], rank: int | None) -> str | None:
    """The hit at ``rank`` as path#anchor: where two rankings part (None: equal, or ended)."""
    if rank is None or rank > len(hits):
        return None
    hit = hits[rank - 1]
    return f"{hit.path}#{hit.anchor}"


def _render_transport(report: EvalReport, target: Target) -> None:
    data = _transport_json(report, target)
    assert data is not None
    added, local, tokens = data["added_latency_ms"], data["in_process_latency_ms"], data["tokens"]
    same = f"{data['equal_rankings']}/{data['queries']}"
    colour = "green" if not report.differing else "red"
    out.print(f"via {target.describe()}: rankings equal to in-process search for "
              f"[{colour}]{same}[/{colour}] queries", highlight=False)
    out.print(f"added latency over in-process, per query: P50 {added['p50']:+.2f} ms, "
              f"P95 {added['p95']:+.2f} ms (in-process P50 {local['p50']:.2f} ms, "
              f"P95 {local['p95']:.2f} ms; goal: under 5 ms at P95)", highlight=False)
    out.print(f"tokens per answer ({data['counter']}): P50 {tokens['p50']:.0f}, "
              f"P95 {tokens['p95']:.0f}, max {tokens['max']:.0f}", highlight=False)
    for q in data["per_query"]:
        if not q["equal"]:
            out.print(f"[red]ranking differs[/red] {q['id']} at rank {q['first_difference']}: "
                      f"in-process {q['in_process'] or '(no hit)'}, via {target.via} "
                      f"{q['via'] or '(no hit)'}", highlight=False)


def _row(label: str, s: Scores) -> tuple[str, ...]:
    return (label, f"{s.ndcg:.3f}", f"{s.recall:.3f}", f"{s.mrr:.3f}", f"{s.success_at_1:.3f}")


def _render(report: EvalReport, root: Path, worst: int) -> None:
    k = report.k
    table = Table(title=f"{len(report.results)} queries, pages under {root}")
    for col in ("", f"nDCG@{k}", f"R@{k}", f"MRR@{k}", "S@1"):
        table.add_column(col, justify="right")
    for level, s in report.overall.items():
        table.add_row(*_row(level, s))
    for kind, per in report.by_type.items():
        for level, s in per.items():
            table.add_row(*_row(f"{kind} ({level})", s))
    out.print(table)
    out.print(f"latency: P50 {report.latency_ms['p50']:.1f} ms, "
              f"P95 {report.latency_ms['p95']:.1f} ms")
    for r in report.worst(worst):
        out.print(f"[bold]worst {r.query.id}[/bold] (section nDCG {r.scores['section'].ndcg:.2f}):"
                  f" {r.query.query}", highlight=False)
        for h in r.hits[:3]:
            out.print(f"   {h.path}#{h.anchor}  {h.title}", highlight=False, markup=False)
    for u in report.unknown:
        target = f"{u.path}#{u.anchor}" if u.anchor else u.path
        out.print(f"[yellow]unknown judgment[/yellow] {u.query_id}: {target} ({u.reason})",
                  highlight=False)
    if report.unscored:
        out.print(f"[yellow]not scored (no known judgment):[/yellow] {', '.join(report.unscored)}")


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command("eval")(eval_golden)
