"""`eval`: run a golden set through search and report nDCG, recall, MRR, latency; a CI gate."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from ingestq.cli.context import EXIT_PROBLEM, out, print_json

if TYPE_CHECKING:  # numpy, SQLite and the embedders load only when the command runs
    from ingestq.ingest.eval_metrics import Scores
    from ingestq.ingest.eval_run import EvalReport


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
) -> None:
    """Evaluate search on a golden set through the real search path.

    Example: ingestctl eval bench/golden/fastapi-en.jsonl --min-ndcg 0.6
    """
    from ingestq.cli.commands.ingest import _pipeline
    from ingestq.ingest.eval_local import default_root, known_targets, pipeline_search
    from ingestq.ingest.eval_run import load_golden, run_eval

    queries = load_golden(golden)
    pipeline = _pipeline()
    base = root.resolve() if root else default_root(list(pipeline.manifest.source_paths().values()))
    report = run_eval(queries, pipeline_search(pipeline, base), k=k,
                      known=known_targets(pipeline, base))
    page_ndcg = report.overall["page"].ndcg
    passed = min_ndcg is None or page_ndcg >= min_ndcg
    if as_json:
        print_json({**report_json(report, worst), "root": str(base), "min_ndcg": min_ndcg,
                    "passed": passed})
    else:
        _render(report, base, worst)
        if min_ndcg is not None:
            verdict = "passed" if passed else "[red]FAILED[/red]"
            out.print(f"gate: page nDCG@{k} {page_ndcg:.3f} vs --min-ndcg {min_ndcg:.3f}: "
                      f"{verdict}")
    if not passed:
        raise typer.Exit(EXIT_PROBLEM)


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
