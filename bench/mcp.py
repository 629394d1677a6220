"""The MCP transports' cost over in-process search, and tokens per answer, on the whole corpus.

The corpus is ingested in this process (hashing embedder, SQLite store, a fresh data directory).
Queries are the first N distinct section titles of the English docs, in path order: real
wordings, picked without looking at results. Each query runs through the in-process search
function, then through the SDK's client against `ingestctl mcp` (stdio) and against
`ingestctl serve` (streamable HTTP at /mcp with a bearer token), one call at a time, k=10. The
rankings of the three must be equal for every query. Figures go to bench/RESULTS.md.

    python bench/mcp.py [--queries 200] [--corpus PATH]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
# This file is bench/mcp.py: with bench/ first on sys.path, `import mcp` would import it, not the
# SDK. Drop the folder while the SDK loads, then put it back for `results`.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]

import anyio  # noqa: E402
import httpx  # noqa: E402
import httpx2  # noqa: E402
from mcp import Client, StdioServerParameters  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

sys.path.insert(0, str(BENCH))
from results import command_line, git_rev, load, machine, write_section  # noqa: E402

from ingestq.config import IngestSettings, load_config  # noqa: E402
from ingestq.ingest.files import expand  # noqa: E402
from ingestq.ingest.pipeline import Pipeline  # noqa: E402
from ingestq.ingest.search import search  # noqa: E402
from ingestq.mcp.budget import counter_for  # noqa: E402

DEFAULT_CORPUS = BENCH.parent.parent / "shared" / "corpus" / "fastapi-docs"
INGESTCTL = str(Path(sys.executable).parent / "ingestctl")
TOKEN = "bench-token"
K = 10
TOKEN_KS = (5, 10, 20, 50)
BUDGET = 2000


def ingest(settings: IngestSettings, corpus: Path) -> tuple[Pipeline, int, float]:
    pipeline = Pipeline.open(settings.pipeline, Path(settings.data_dir))
    files = expand([str(corpus)]).files
    started = time.perf_counter()
    for path in files:
        try:
            pipeline.ingest_file(path)
        except Exception as exc:  # a bad file is reported, the rest still measured
            print(f"skipped {path}: {exc}", file=sys.stderr)
    return pipeline, len(files), time.perf_counter() - started


def queries(pipeline: Pipeline, n: int) -> list[str]:
    rows = pipeline.manifest.conn.execute(
        "SELECT s.title FROM sections s JOIN documents d ON d.id = s.document_id "
        "WHERE d.source_path LIKE '%/en/%' AND length(s.title) > 3 ORDER BY d.source_path, s.ord")
    seen: dict[str, None] = {}
    for (title,) in rows:
        seen.setdefault(str(title), None)
        if len(seen) == n:
            break
    return list(seen)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def in_process(pipeline: Pipeline, qs: list[str]) -> tuple[list[float], list[list[str]]]:
    times, rankings = [], []
    for q in qs:
        started = time.perf_counter()
        found = search(pipeline, q, K)
        times.append(time.perf_counter() - started)
        rankings.append([r.section_id for r in found])
    return times, rankings


async def through(client: Client, qs: list[str]) -> tuple[list[float], list[list[str]]]:
    await client.call_tool("search", {"query": qs[0], "k": K})  # warm: first call opens stores
    times, rankings = [], []
    for q in qs:
        started = time.perf_counter()
        result = await client.call_tool("search", {"query": q, "k": K})
        times.append(time.perf_counter() - started)
        content: dict[str, Any] = result.structured_content or {}
        rankings.append([h["section_id"] for h in content.get("hits", [])])
    return times, rankings


async def validation(client: Client, qs: list[str]) -> list[float]:
    """What the SDK client's own check of each result against the output schema costs (it runs
    inside every call_tool above)."""
    times = []
    for q in qs:
        result = await client.call_tool("search", {"query": q, "k": K})
        started = time.perf_counter()
        await client.session.validate_tool_result("search", result)
        times.append(time.perf_counter() - started)
    return times


async def tokens_per_answer(client: Client, qs: list[str]) -> dict[tuple[int, bool], float]:
    out = {}
    for k in TOKEN_KS:
        for budgeted in (False, True):
            args: dict[str, Any] = {"k": k, **({"max_tokens": BUDGET} if budgeted else {})}
            counts = []
            for q in qs[:50]:
                result = await client.call_tool("search", {"query": q, **args})
                counts.append((result.structured_content or {}).get("tokens", 0))
            out[(k, budgeted)] = statistics.mean(counts)
    return out


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def mcp_child() -> int:
    """The pid of this process's `ingestctl mcp` child (the SDK spawns it)."""
    me = str(os.getpid())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if stat.rsplit(")", 1)[1].split()[1] == me and b"mcp" in cmd:
            return int(entry.name)
    raise RuntimeError("no ingestctl mcp child found")


def run_client(client: Client, job: Callable[[Client], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        async with client:
            return await job(client)

    return anyio.run(main)


def child_env(data_dir: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INGESTQ_")}
    env.update(INGESTQ_DATA_DIR=data_dir, INGESTQ_SERVICE_TOKEN=TOKEN)
    return env


def over_stdio(data_dir: str, qs: list[str]) -> tuple[list[float], list[list[str]], float,
                                                     dict[tuple[int, bool], float], list[float]]:
    params = StdioServerParameters(command=INGESTCTL, args=["mcp"], env=child_env(data_dir))

    async def job(client: Client) -> Any:
        times, rankings = await through(client, qs)
        rss = rss_mib(mcp_child())
        return times, rankings, rss, await tokens_per_answer(client, qs), await validation(
            client, qs)

    return run_client(Client(params, read_timeout_seconds=120), job)  # type: ignore[no-any-return]


def over_http(data_dir: str, qs: list[str]) -> tuple[list[float], list[list[str]], float]:
    port = 18000 + os.getpid() % 1000
    proc = subprocess.Popen([INGESTCTL, "serve", "--port", str(port)], env=child_env(data_dir),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                ready = httpx.get(f"{base}/mcp", headers={"Authorization": f"Bearer {TOKEN}"},
                                  timeout=1)
                if ready.status_code != 503:  # 503 while the MCP server starts
                    break
                time.sleep(0.2)
            except httpx.HTTPError:
                time.sleep(0.2)
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120)

        async def job(client: Client) -> Any:
            times, rankings = await through(client, qs)
            return times, rankings, rss_mib(proc.pid)

        return run_client(Client(streamable_http_client(f"{base}/mcp", http_client=http)),
                          job)  # type: ignore[no-any-return]
    finally:
        proc.terminate()
        proc.wait(30)


def row(name: str, times: list[float], base: list[float] | None, rss: str) -> str:
    p50, p95 = pct(times, 0.5) * 1000, pct(times, 0.95) * 1000
    added = "-" if base is None else (f"+{p50 - pct(base, 0.5) * 1000:.2f} / "
                                      f"+{p95 - pct(base, 0.95) * 1000:.2f}")
    return f"| {name} | {len(times)} | {p50:.2f} | {p95:.2f} | {added} | {rss} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args()
    started_load = load()
    data_dir = tempfile.mkdtemp(prefix="bench-mcp-")
    try:
        settings = load_config(environ={"INGESTQ_DATA_DIR": data_dir}).ingest
        pipeline, files, ingest_s = ingest(settings, args.corpus)
        qs = queries(pipeline, args.queries)
        local_t, local_r = in_process(pipeline, qs)
        stdio_t, stdio_r, stdio_rss, tokens, check_t = over_stdio(data_dir, qs)
        http_t, http_r, http_rss = over_http(data_dir, qs)
        stats = pipeline.manifest.stats()
        counter = counter_for(settings.pipeline.embedder).name
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    same_stdio = sum(a == b for a, b in zip(local_r, stdio_r, strict=True))
    same_http = sum(a == b for a, b in zip(local_r, http_r, strict=True))
    p95_added = max(pct(stdio_t, 0.95), pct(http_t, 0.95)) - pct(local_t, 0.95)
    lines = [
        "## MCP server (issues 10, 18)", "",
        f"Machine: {machine()}; {started_load}; commit `{git_rev()}`; `{command_line()}`.  ",
        f"Corpus: {args.corpus.name}, {files} files, {stats['sections']:,} sections, "
        f"{stats['chunks']:,} chunks, ingested in process in {ingest_s:.1f} s (hashing "
        f"embedder, SQLite). {len(qs)} queries (distinct English section titles, path order), "
        f"`search` k={K}, one call at a time, after one warm-up call per transport.", "",
        "| path | calls | P50 ms | P95 ms | added over in-process (P50 / P95 ms) | "
        "server RSS MiB |",
        "|---|---|---|---|---|---|",
        row("in-process `search()`", local_t, None, "-"),
        row("stdio (`ingestctl mcp`)", stdio_t, local_t, f"{stdio_rss:.0f}"),
        row("streamable HTTP (`ingestctl serve`, /mcp)", http_t, local_t, f"{http_rss:.0f}"),
        "",
        f"Rankings equal to in-process: stdio {same_stdio}/{len(qs)}, HTTP "
        f"{same_http}/{len(qs)}. Goal: the transport adds under 5 ms at P95 — "
        f"{'met' if p95_added < 0.005 else 'missed'} (worst +{p95_added * 1000:.2f} ms). "
        f"Of the added time, the SDK client's own validation of each result against the "
        f"published output schema (jsonschema, inside every `call_tool`) takes P50 "
        f"{pct(check_t, 0.5) * 1000:.2f} ms, P95 {pct(check_t, 0.95) * 1000:.2f} ms.", "",
        f"Tokens per answer (text content, counter: `{counter}`; mean over the first 50 "
        f"queries, stdio), without a budget (server ceiling 8000) and with max_tokens={BUDGET}:",
        "", "| k | tokens, no budget | tokens, max_tokens 2000 |", "|---|---|---|",
        *[f"| {k} | {tokens[(k, False)]:.0f} | {tokens[(k, True)]:.0f} |" for k in TOKEN_KS],
    ]
    write_section("mcp", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
