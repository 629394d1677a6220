"""Worker subprocesses: started in their own session, so a kill reaches their children too."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from pathlib import Path

from systems import WORKERS, Config, System

LOGS = Path(os.environ.get("BENCH_LOG_DIR", "/tmp/ingestq-peers-logs"))


def env_for(url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment every task module and worker of one trial sees."""
    env = dict(os.environ)
    env.update({"BENCH_REDIS_URL": url, "INGESTQ_REDIS_URL": url, "PYTHONPATH": str(WORKERS),
                "PYTHONUNBUFFERED": "1"})
    env.update(extra or {})
    return env


def start(commands: list[list[str]], url: str, extra: dict[str, str], tag: str
          ) -> list[subprocess.Popen[bytes]]:
    """Start one process per command line, logging to LOGS/<tag>-<i>.log."""
    LOGS.mkdir(parents=True, exist_ok=True)
    procs = []
    for i, cmd in enumerate(commands):
        line = [part.replace("{url}", url) for part in cmd]
        log = open(LOGS / f"{tag}-{i}.log", "wb")  # noqa: SIM115 - lives as long as the process
        procs.append(subprocess.Popen(line, cwd=WORKERS, env=env_for(url, extra), stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True))
    return procs


def kill(procs: list[subprocess.Popen[bytes]], sig: int = signal.SIGKILL) -> None:
    """Send sig to each process group; reap the leaders."""
    for p in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, sig)
    for p in procs:
        p.wait()


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM each group, then SIGKILL whatever is left after 10 s."""
    for p in procs:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(10)
    kill(procs)


def produce(system: System, url: str, what: str, n: int = 1) -> float:
    """Run the system's producer in its own interpreter; return the seconds it measured."""
    out = subprocess.run([str(system.python), "driver.py", system.name, what, str(n)],
                         cwd=WORKERS, env=env_for(url), capture_output=True, text=True,
                         check=False, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"{system.name} producer failed: {out.stderr[-2000:]}")
    return float(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])


def config_tag(system: System, config: Config) -> str:
    """A file-name-safe tag for one configuration's logs."""
    return system.name + "-" + "".join(c if c.isalnum() else "_" for c in config.label)[:40]
