"""The README's quick start runs as written: its handler file, its worker command, its enqueue."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from redis import Redis
from support.procs import env_for, wait_for

import ingestq
from ingestq.config import IngestSettings
from ingestq.core import queries
from ingestq.core.job import JobState
from ingestq.core.queue import Queue

README = Path(__file__).resolve().parents[1] / "README.md"


def quickstart_blocks() -> list[tuple[str, str]]:
    """(language, text) of each fenced block of the quick-start section, in order."""
    section = README.read_text(encoding="utf-8").split("## Quick start", 1)[1].split("\n## ")[0]
    return re.findall(r"```(\w+)\n(.*?)```", section, re.S)


def test_the_quickstart_imports_only_the_packages_public_names() -> None:
    code = "\n".join(text for lang, text in quickstart_blocks() if lang == "python")
    names = {n.strip() for group in re.findall(r"from ingestq import (.+)", code)
             for n in group.split(",")}
    assert names and names <= set(ingestq.__all__)


@pytest.mark.slow
def test_the_readme_quickstart_runs_as_written(client: Redis, settings: IngestSettings,
                                               tmp_path: Path) -> None:
    (handler_lang, handler_code), (shell_lang, command), (enqueue_lang, enqueue_code) = (
        quickstart_blocks())
    assert (handler_lang, shell_lang, enqueue_lang) == ("python", "bash", "python")
    filename = handler_code.splitlines()[0].removeprefix("# ").strip()
    (tmp_path / filename).write_text(handler_code, encoding="utf-8")
    env = env_for(settings)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    worker = subprocess.Popen(["bash", "-c", command.strip()], cwd=tmp_path, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        done = subprocess.run([sys.executable, "-c", enqueue_code], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        job_id = done.stdout.strip()
        q = Queue(client, settings)
        wait_for(lambda: queries.get_job(q, job_id).state is JobState.DONE, 60, "the job done")
        assert queries.get_job(q, job_id).result == {"greeting": "hello Ada"}
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
