"""Start-up time of `ingestctl`: `--help` and `status`, against a bare interpreter and against
the code of a baseline commit (default ``main``), all in the same run.

The baseline's ``src`` is extracted with ``git archive`` and run from ``PYTHONPATH`` with the same
interpreter and packages, so the ratio isolates this tree's code. Every command runs ``--runs``
times, interleaved, so that load from other work on the machine hits each alike; the tables give
the minimum and median wall time and the minimum CPU time (user + system of the child), which a
loaded machine disturbs much less than wall time. `status` runs on an embedded server started
beforehand in a temporary data directory. The import profile (``python -X importtime``) lists
the modules that cost most when `ingestctl` starts.

Goal (issue 16): `--help` under 150 ms and `status` under 250 ms on this machine.

    python bench/startup.py [--runs 15] [--baseline main]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results import command_line, git_rev, load, machine, write_section

GOALS_MS = {"ingestctl --help": 150.0, "ingestctl status": 250.0}


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall-clock and CPU (user + system) milliseconds of one run (it must succeed)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    wall = (time.perf_counter() - start) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    return wall, cpu


def extract(rev: str, into: Path) -> Path:
    """The ``src`` tree of ``rev``, for running the baseline's code from PYTHONPATH."""
    archive = subprocess.run(["git", "archive", rev, "src"], capture_output=True, check=True,
                             cwd=Path(__file__).resolve().parents[1]).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def import_profile(env: dict[str, str], argv: list[str], runs: int = 5, top: int = 14
                   ) -> list[tuple[str, int]]:
    """The outermost imports of one command (``python -X importtime``): the minimum over
    ``runs`` of each one's cumulative microseconds, largest first. Outermost imports do not
    nest, so their sum is the command's whole import time."""
    best: dict[str, int] = {}
    for _ in range(runs):
        res = subprocess.run([sys.executable, "-X", "importtime", *argv], env=env,
                             capture_output=True, text=True, check=True)
        for line in res.stderr.splitlines():
            if not line.startswith("import time:") or "cumulative" in line:
                continue
            _self, cumulative, name = line.removeprefix("import time:").split("|")
            if name.startswith("  "):  # nested: counted in its outermost import
                continue
            key = name.strip()
            best[key] = min(best.get(key, 1 << 62), int(cumulative))
    return [*sorted(best.items(), key=lambda r: -r[1])[:top], ("(all)", sum(best.values()))]


def extras() -> str:
    """Whether the optional OpenTelemetry SDK is installed: redis-py probes it on import."""
    import importlib.util

    found = importlib.util.find_spec("opentelemetry") is not None and (
        importlib.util.find_spec("opentelemetry.sdk") is not None)
    return ("the OpenTelemetry SDK is installed (`ingestq[tracing]`, or the test extra): "
            "redis-py imports its metrics SDK on import" if found else
            "no OpenTelemetry SDK (a plain `pip install ingestq`)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--baseline", default="main", help="git revision to compare with")
    args = parser.parse_args()
    cli = [sys.executable, "-m", "ingestq.cli"]
    with tempfile.TemporaryDirectory(prefix="iq-startup-") as tmp:
        # Byte-code caching on, as on a user's machine (pip compiles what it installs; an
        # editable tree and the baseline's get their __pycache__ on the warm-up runs below).
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("INGESTQ_") and k != "PYTHONDONTWRITEBYTECODE"}
        env["INGESTQ_DATA_DIR"] = str(Path(tmp) / "data")
        base_src = extract(args.baseline, Path(tmp))
        base_env = {**env, "PYTHONPATH": str(base_src)}
        # the program's own entry, unless the baseline predates it
        has_entry = (base_src / "ingestq" / "cli" / "__main__.py").is_file()
        base_cli = [sys.executable, "-m", "ingestq.cli" if has_entry else "ingestq.cli.main"]
        runs: dict[str, tuple[list[str], dict[str, str]]] = {
            "python -c pass (bare interpreter)": ([sys.executable, "-c", "pass"], env),
            "ingestctl --help": ([*cli, "--help"], env),
            f"ingestctl --help ({args.baseline})": ([*base_cli, "--help"], base_env),
            "ingestctl status": ([*cli, "status"], env),
            f"ingestctl status ({args.baseline})": ([*base_cli, "status"], base_env)}
        here = os.getcwd()
        os.chdir(tmp)  # where no ingestq.yaml is: the defaults, as on a new machine
        try:
            subprocess.run([*cli, "status"], env=env, check=True, capture_output=True)
            for argv, run_env in runs.values():  # warm-up: byte code written, pages cached
                subprocess.run(argv, env=run_env, check=True, capture_output=True)
            wall: dict[str, list[float]] = {name: [] for name in runs}
            cpu: dict[str, list[float]] = {name: [] for name in runs}
            for _ in range(args.runs):
                for name, (argv, run_env) in runs.items():
                    w, c = timed(argv, run_env)
                    wall[name].append(w)
                    cpu[name].append(c)
            profile = import_profile(env, ["-m", "ingestq.cli", "status"])
        finally:
            subprocess.run([*cli, "server", "stop", "--force"], env=env, capture_output=True)
            os.chdir(here)
    write(args, wall, cpu, profile)


def write(args: argparse.Namespace, wall: dict[str, list[float]], cpu: dict[str, list[float]],
          profile: list[tuple[str, int]]) -> None:
    """The RESULTS.md section: both tables, the goals, the import profile."""
    bare = min(cpu["python -c pass (bare interpreter)"])
    lines = [
        "## Start-up time (issue 16)", "",
        f"`{command_line()}` at {git_rev()}; {machine()}; {load()}. {args.runs} runs each, "
        f"interleaved, after one warm-up run each (byte code cached, as after an install); "
        f"`status` on an already running embedded server, no config file; `({args.baseline})` "
        f"rows run the "
        f"baseline's `src` with the same interpreter and packages. Interpreter: "
        f"`{sys.executable}`; {extras()}.", "",
        "| command | min wall ms | median wall ms | min CPU ms | CPU over bare | "
        "CPU vs baseline | goal (wall) |",
        "|---|---:|---:|---:|---:|---:|---|"]
    for name in wall:
        goal = GOALS_MS.get(name)
        # judged on the median: a minimum is the luckiest run, not what an operator sees
        verdict = "" if goal is None else (f"< {goal:g} ms: " + (
            "met" if statistics.median(wall[name]) < goal else "missed"))
        base = f"{name} ({args.baseline})"
        ratio = f"{min(cpu[name]) / min(cpu[base]):.2f}x" if base in cpu else ""
        lines.append(f"| `{name}` | {min(wall[name]):.0f} | {statistics.median(wall[name]):.0f} "
                     f"| {min(cpu[name]):.0f} | {min(cpu[name]) / bare:.1f}x | {ratio} "
                     f"| {verdict} |")
    lines += ["", "The goals are wall-clock times on this machine, judged on the median run; "
              "the CPU columns show what other load on the machine cannot inflate."]
    lines += ["", "Where `ingestctl status` spends its import time (`python -X importtime -m "
              "ingestq.cli status`): each outermost import with what it pulls in, the "
              "minimum of 5 runs; `(all)` is their sum, the command's whole import time:", "",
              "| module | cumulative ms |", "|---|---:|"]
    lines += [f"| `{name.strip()}` | {us / 1000:.1f} |" for name, us in profile]
    write_section("startup", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
