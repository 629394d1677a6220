"""The MCP transports' cost over in-process search, and tokens per answer, on the whole corpus.

The corpus is ingested in this process (hashing embedder, SQLite store, a fresh data directory).
Queries are the first N distinct section titles of the English docs, in path order: real
wordings, picked without looking at results. Each query runs through the in-process search
function, then through the SDK's client against `ingestctl mcp` (stdio) and against
`ingestctl serve` (streamable HTTP at /mcp with a bearer token), one call at a time, k=10. The
rankings of the three must be equal for every query. Figures go to bench/RESULTS.md. The clients
are ingestq.mcp.client's, the ones `ingestctl eval --via` uses.

    python bench/mcp.py [--queries 200] [--corpus PATH]
    python bench/mcp.py --quick    # the `en` folder, 20 queries; prints, writes nothing
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
# This file is bench/mcp.py: with bench/ first on sys.path, `import mcp` would import it, not the
# SDK. Drop the folder while the SDK loads, then put it back for `results`.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]

import anyio  # noqa: E402
import httpx  # noqa: E402
from mcp import Client, StdioServerParameters  # noqa: E402

sys.path.insert(0, str(BENCH))
from results import command_line, git_rev, load, machine, write_section  # noqa: E402

from ingestq.config import IngestSettings, load_config  # noqa: E402
from ingestq.core.embedded import EmbeddedServer  # noqa: E402
from ingestq.ingest.eval_metrics import percentile  # noqa: E402
from ingestq.ingest.files import expand  # noqa: E402
from ingestq.ingest.pipeline import Pipeline  # noqa: E402
from ingestq.ingest.search import search  # noqa: E402
from ingestq.mcp.budget import counter_for  # noqa: E402
from ingestq.mcp.client import Target, connect, search_all  # noqa: E402

# the corpus kept with the tests (tests/corpus/README.md); --corpus for a larger folder
DEFAULT_CORPUS = BENCH.parent / "tests" / "corpus" / "fastapi-docs"
INGESTCTL = str(Path(sys.executable).parent / "ingestctl")
FLOOR = BENCH / "sdk_floor.py"
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
    return percentile(values, q * 100)  # the eval report's percentile (nearest rank)


async def validation(client: Client, qs: list[str]) -> list[float]:
    """What the SDK client's own check of each result against the output schema costs (it runs
    inside every call_tool)."""
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


def child_env(data_dir: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INGESTQ_")}
    env.update(INGESTQ_DATA_DIR=data_dir, INGESTQ_SERVICE_TOKEN=TOKEN)
    return env


def wait_http(url: str) -> None:
    """Until the MCP endpoint answers (503 while ingestq's MCP server starts)."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            ready = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=1)
            if ready.status_code != 503:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)


def start_http(argv: list[str], port: int, data_dir: str) -> tuple[subprocess.Popen[bytes], str]:
    """A server on ``port`` (its command line ends with the port), answering at /mcp."""
    proc = subprocess.Popen([*argv, str(port)], env=child_env(data_dir),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/mcp"
    wait_http(url)
    return proc, url


def start_service(data_dir: str) -> tuple[subprocess.Popen[bytes], str]:
    return start_http([INGESTCTL, "serve", "--port"], 18000 + os.getpid() % 1000, data_dir)


def start_floor(canned: Path, data_dir: str) -> tuple[subprocess.Popen[bytes], str]:
    """bench/sdk_floor.py over HTTP; its stdio twin is spawned by the SDK's client."""
    return start_http([sys.executable, str(FLOOR), str(canned), "http"],
                      19000 + os.getpid() % 1000, data_dir)


class Run:
    """Per path: seconds and rankings per query, measured interleaved."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {"local": [], "stdio": [], "http": [],
                                              "floor stdio": [], "floor http": []}
        self.rankings: dict[str, list[list[str]]] = {"local": [], "stdio": [], "http": []}
        self.rss: dict[str, float] = {}
        self.tokens: dict[tuple[int, bool], float] = {}
        self.validation: list[float] = []


def measure(pipeline: Pipeline, data_dir: str, qs: list[str]) -> Run:
    """Each query through in-process search, stdio and HTTP back to back, then through the
    SDK's floor (bench/sdk_floor.py, a canned result) on both, so the load of a shared machine
    falls on every path alike; the added cost is taken per query."""
    run = Run()
    service, url = start_service(data_dir)
    canned = Path(tempfile.mkdtemp(prefix="canned-")) / "result.json"
    floor: subprocess.Popen[bytes] | None = None

    async def main() -> None:
        nonlocal floor
        async with connect(Target("mcp", env=child_env(data_dir))) as stdio, \
                connect(Target("http", url=url, token=TOKEN)) as http:
            for client in (stdio, http):  # warm: the first call opens the stores
                await search_all(client, qs[0], K)
            search(pipeline, qs[0], K)
            sample = await stdio.call_tool("search", {"query": qs[0], "k": K})
            canned.write_text(json.dumps({"text": getattr(sample.content[0], "text", ""),
                                          "structured": sample.structured_content}))
            floor, floor_url = start_floor(canned, data_dir)
            floor_stdio = Client(StdioServerParameters(
                command=sys.executable, args=[str(FLOOR), str(canned), "stdio"],
                env=child_env(data_dir)))
            async with floor_stdio, connect(Target("http", url=floor_url, token=TOKEN)) as fh:
                floors = (("floor stdio", floor_stdio), ("floor http", fh))
                for _, client in floors:
                    await client.call_tool("search", {"query": qs[0], "k": K})
                for q in qs:
                    started = time.perf_counter()
                    local = [r.section_id for r in search(pipeline, q, K)]
                    run.times["local"].append(time.perf_counter() - started)
                    run.rankings["local"].append(local)
                    for name, client in (("stdio", stdio), ("http", http)):
                        reply = await search_all(client, q, K)
                        run.times[name].append(reply.seconds)
                        run.rankings[name].append([h["section_id"] for h in reply.hits])
                    for name, client in floors:
                        started = time.perf_counter()
                        await client.call_tool("search", {"query": q, "k": K})
                        run.times[name].append(time.perf_counter() - started)
            run.rss = {"stdio": rss_mib(mcp_child()), "http": rss_mib(service.pid)}
            run.tokens = await tokens_per_answer(stdio, qs)
            run.validation = await validation(stdio, qs)

    try:
        anyio.run(main)
    finally:
        for proc in (service, floor):
            if proc is not None:
                proc.terminate()
                proc.wait(30)
        shutil.rmtree(canned.parent, ignore_errors=True)
    return run


def row(name: str, times: list[float], base: list[float] | None, rss: str) -> str:
    p50, p95 = pct(times, 0.5) * 1000, pct(times, 0.95) * 1000
    if base is None:
        added = "-"
    else:
        diffs = [t - b for t, b in zip(times, base, strict=True)]
        added = f"{pct(diffs, 0.5) * 1000:+.2f} / {pct(diffs, 0.95) * 1000:+.2f}"
    return f"| {name} | {len(times)} | {p50:.2f} | {p95:.2f} | {added} | {rss} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--quick", action="store_true",
                        help="the corpus's `en` folder and 20 queries; prints, writes nothing")
    args = parser.parse_args()
    if args.quick:
        args.corpus, args.queries = args.corpus / "en", min(args.queries, 20)
    if not args.corpus.is_dir():
        parser.error(f"no corpus at {args.corpus}: pass --corpus")
    started_load = load()
    data_dir = tempfile.mkdtemp(prefix="bench-mcp-")
    try:
        settings = load_config(environ={"INGESTQ_DATA_DIR": data_dir}).ingest
        pipeline, files, ingest_s = ingest(settings, args.corpus)
        qs = queries(pipeline, args.queries)
        # The harness holds the corpus for the in-process side; no collection during a timed
        # call need walk it (it added about 1 ms per call to every client path here)
        gc.freeze()
        run = measure(pipeline, data_dir, qs)
        stats = pipeline.manifest.stats()
        counter = counter_for(settings.pipeline.embedder).name
    finally:
        EmbeddedServer(data_dir).stop()  # the service's queue started one in the data dir
        shutil.rmtree(data_dir, ignore_errors=True)
    local = run.times["local"]
    same = {n: sum(a == b for a, b in zip(run.rankings["local"], run.rankings[n], strict=True))
            for n in ("stdio", "http")}
    added95 = {n: pct([t - b for t, b in zip(run.times[n], local, strict=True)], 0.95)
               for n in ("stdio", "http")}
    verdicts = ", ".join(f"{n} {'met' if v < 0.005 else 'missed'} ({v * 1000:+.2f} ms)"
                         for n, v in added95.items())

    def own(name: str) -> str:
        left = [t - f - b for t, f, b in zip(run.times[name], run.times[f"floor {name}"],
                                              local, strict=True)]
        return f"{pct(left, 0.5) * 1000:+.2f} / {pct(left, 0.95) * 1000:+.2f} ms"

    lines = [
        "## MCP server (issues 10, 18)", "",
        f"Machine: {machine()}; {started_load}; commit `{git_rev()}`; `{command_line()}`.  ",
        f"Corpus: {args.corpus.name}, {files} files, {stats['sections']:,} sections, "
        f"{stats['chunks']:,} chunks, ingested in process in {ingest_s:.1f} s (hashing "
        f"embedder, SQLite). {len(qs)} queries (distinct English section titles, path order), "
        f"`search` k={K}, one call at a time; each query goes through every path back to "
        "back (so the load of the shared machine falls on them alike), after one warm-up call "
        "per path. Added cost is the per-query difference to in-process, then its percentile. "
        "The bench process freezes its heap (`gc.freeze()`) before timing.",
        "",
        "| path | calls | P50 ms | P95 ms | added over in-process, per query (P50 / P95 ms) | "
        "server RSS MiB |",
        "|---|---|---|---|---|---|",
        row("in-process `search()`", local, None, "-"),
        row("stdio (`ingestctl mcp`)", run.times["stdio"], local, f"{run.rss['stdio']:.0f}"),
        row("streamable HTTP (`ingestctl serve`, /mcp)", run.times["http"], local,
            f"{run.rss['http']:.0f}"),
        row("SDK floor, stdio (bench/sdk_floor.py)", run.times["floor stdio"], None, "-"),
        row("SDK floor, streamable HTTP", run.times["floor http"], None, "-"),
        "",
        "The SDK floor rows are a server built on the same SDK whose `search` returns a canned "
        "result `ingestctl mcp` gave (10 hits, the same output schema), called by the same "
        "client in the same loop: what one call costs with no search and none of ingestq's "
        "work. Of the added time, that much is the SDK's and the transport's; what is left "
        "per query (transport minus in-process minus floor) is ingestq's own work in the "
        f"tool (freshness, typed result, Markdown, token count): P50 / P95 {own('stdio')} "
        f"over stdio, {own('http')} over HTTP.", "",
        f"Rankings equal to in-process: stdio {same['stdio']}/{len(qs)}, HTTP "
        f"{same['http']}/{len(qs)}. Goal: the transport adds under 5 ms at P95: "
        f"{verdicts}. Of the added "
        "time, the SDK client's own validation of each result against the published output "
        f"schema (jsonschema, inside every `call_tool`) takes P50 "
        f"{pct(run.validation, 0.5) * 1000:.2f} ms, P95 {pct(run.validation, 0.95) * 1000:.2f} "
        "ms.", "",
        f"Tokens per answer (text content, counter: `{counter}`; mean over the first 50 "
        f"queries, stdio), without a budget (server ceiling 8000) and with max_tokens={BUDGET}:",
        "", "| k | tokens, no budget | tokens, max_tokens 2000 |", "|---|---|---|",
        *[f"| {k} | {run.tokens[(k, False)]:.0f} | {run.tokens[(k, True)]:.0f} |"
          for k in TOKEN_KS],
    ]
    if not args.quick:  # a quick check must not replace the figures of a full run
        write_section("mcp", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
