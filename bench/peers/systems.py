"""Each system's interpreter, worker command lines and configurations (a) and (b)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKERS = HERE / "workers"
PEER_BIN = HERE / ".venv" / "bin"  # peers need redis-py < 6; ingestq's venv has 8.x
INGESTQ_BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Config:
    """One way to run a system's workers: one command line per process, plus env."""

    label: str
    commands: list[list[str]]
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class System:
    """A queue library under test."""

    name: str
    python: Path
    package: str  # distribution whose version is reported
    default: Config  # (a): one worker process, default settings
    tuned: list[Config]  # (b) candidates on 2 cores; the best one is reported
    recovery: list[str]  # worker command for the kill-and-restart trial


def _times(n: int, cmd: list[str]) -> list[list[str]]:
    return [list(cmd) for _ in range(n)]


def build(url_placeholder: str = "{url}") -> list[System]:
    """All systems; "{url}" in a command is replaced by the run's Redis URL."""
    iq = [str(INGESTQ_BIN / "ingestctl"), "worker", "-i", "bench_ingestq"]
    rq = [str(PEER_BIN / "rq"), "worker", "--burst", "-u", url_placeholder, "--serializer",
          "rq.serializers.JSONSerializer", "-q"]
    arq = [str(PEER_BIN / "arq"), "bench_arq.WorkerSettings"]
    dram = [str(PEER_BIN / "dramatiq"), "bench_dramatiq"]
    cel = [str(PEER_BIN / "celery"), "-A", "bench_celery", "worker", "-l", "WARNING"]
    saq = [str(PEER_BIN / "saq"), "bench_saq.settings", "-q"]
    tiq = [str(PEER_BIN / "taskiq"), "worker", "bench_taskiq:broker"]
    stq = [str(PEER_BIN / "streaq"), "run", "bench_streaq:worker"]
    py = PEER_BIN / "python"
    return [
        System("ingestq", Path(sys.executable), "ingestq",
               Config("1 process, concurrency 8", [[*iq, "--burst"]]),
               [Config("2 processes x concurrency 8", _times(2, [*iq, "--burst"])),
                Config("1 process, concurrency 32", [[*iq, "--burst", "-n", "32"]]),
                Config("2 processes x concurrency 32", _times(2, [*iq, "--burst", "-n", "32"]))],
               iq),
        System("rq", py, "rq", Config("1 forking Worker", [[*rq, "bench"]]),
               [Config("2 x SimpleWorker (no fork per job)",
                       _times(2, [*rq, "-w", "rq.worker.SimpleWorker", "bench"]))],
               rq[:2] + rq[3:] + ["bench"]),
        System("arq", py, "arq", Config("1 process, max_jobs 10", [arq]),
               [Config("2 processes x max_jobs 10", _times(2, arq)),
                Config("2 processes x max_jobs 50", _times(2, arq), {"BENCH_CONCURRENCY": "50"})],
               arq),
        System("dramatiq", py, "dramatiq", Config("-p 1 (8 threads)", [[*dram, "-p", "1"]]),
               [Config("-p 2 -t 8 (its default on 2 cores)", [[*dram, "-p", "2"]])], dram),
        System("celery", py, "celery", Config("prefork -c 1", [[*cel, "-c", "1"]]),
               [Config("prefork -c 2 (its default on 2 cores)", [[*cel, "-c", "2"]]),
                Config("threads -c 16", [[*cel, "-P", "threads", "-c", "16"]])], cel),
        System("saq", py, "saq", Config("1 process, concurrency 10", [saq]),
               [Config("--workers 2 x concurrency 10", [[*saq, "--workers", "2"]]),
                Config("--workers 2 x concurrency 50", [[*saq, "--workers", "2"]],
                       {"BENCH_CONCURRENCY": "50"})], saq),
        System("taskiq", py, "taskiq-redis", Config("--workers 1", [[*tiq, "--workers", "1"]]),
               [Config("--workers 2 (its default)", [[*tiq, "--workers", "2"]])], tiq),
        System("streaq", py, "streaq", Config("1 process, concurrency 16", [stq]),
               [Config("--workers 2 x concurrency 16", [[*stq, "--workers", "2"]])], stq),
    ]
