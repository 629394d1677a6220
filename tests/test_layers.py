"""The module map of docs/architecture.md, enforced: every import in the package goes downward.

Every ``import`` counts, including those inside functions and under ``TYPE_CHECKING``: a lazy
or type-only import is still a dependency a reader has to follow.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "ingestq"

# What each part may import besides itself and the base (``errors``, ``logs``, ``redaction``,
# ``threads``, the package's ``__version__``). The order of the map: base < core < worker <
# tracing, config < ingest, ops < mcp < service < cli.
BASE = {"errors", "logs", "redaction", "threads"}
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "logs": set(),
    "redaction": set(),
    "threads": set(),
    "core": set(),
    "worker": {"core"},
    "tracing": {"worker"},  # attempt spans are an attempt hook; enqueue spans for cli/service
    # it only composes the parts' settings modules
    "config": {"core.settings", "worker.settings", "ingest.settings", "mcp.settings"},
    "ingest": {"core", "worker", "config", "tracing"},  # submit opens the enqueue span
    "ops": {"core", "worker", "config", "mcp.settings"},  # doctor says whether /mcp is served
    "mcp": {"core", "config", "ingest", "ops", "tracing"},  # server and client (eval --via)
    "service": {"core", "worker", "config", "ops", "ingest", "tracing", "mcp"},
    "cli": {"core", "worker", "config", "ops", "ingest", "service", "tracing", "mcp"},
}


def part_of(module: str) -> str:
    """``ingestq.core.queue`` -> ``core``; ``ingestq.config`` -> ``config``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def imported(tree: ast.AST) -> list[str]:
    """Every ``ingestq`` module a source imports (``from ingestq import x`` names ingestq.x)."""
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "ingestq":
                names += [f"ingestq.{a.name}" for a in node.names]
            else:
                names.append(node.module)
    return [n for n in names if n == "ingestq" or n.startswith("ingestq.")]


def allowed(importer: str, target: str) -> bool:
    """May module ``importer`` import module ``target``?"""
    src, dst = part_of(importer), part_of(target)
    if importer == "ingestq" or target == "ingestq.__version__":
        return True  # the package's lazy facade re-exports; __version__ is a constant
    if dst == src or dst in BASE:
        return True
    rest = target.split(".", 1)[1]
    return any(rest == rule or rest.startswith(rule + ".") for rule in ALLOWED.get(src, ()))


def violations(module: str, source: str) -> list[str]:
    """The forbidden imports of one module's source."""
    return [f"{module} imports {target}" for target in imported(ast.parse(source))
            if not allowed(module, target)]


def package_modules() -> dict[str, str]:
    """Every module of the package, by dotted name, with its source."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts).removesuffix(".__init__")
        out[name] = path.read_text(encoding="utf-8")
    return out


def test_every_import_in_the_package_follows_the_module_map() -> None:
    modules = package_modules()
    unknown = sorted({part_of(m) for m in modules} - set(ALLOWED) - {""})
    assert not unknown, f"parts missing from the module map: {unknown}"
    found = [v for name, source in modules.items() for v in violations(name, source)]
    assert not found, "imports against the module map:\n" + "\n".join(found)


def test_the_rule_catches_the_core_importing_upwards_even_lazily() -> None:
    lazy = "def f():\n    from ingestq.worker.loop import Worker\n"
    assert violations("ingestq.core.queue", lazy) == [
        "ingestq.core.queue imports ingestq.worker.loop"]
    assert violations("ingestq.core.queue", "from ingestq.config import IngestSettings\n")
    assert violations("ingestq.worker.loop", "from ingestq import config\n")
    assert violations("ingestq.config", "from ingestq.ingest.pipeline import Pipeline\n")
    assert violations("ingestq.service.app", "import ingestq.cli.main\n")
    assert not violations("ingestq.worker.loop", "from ingestq.core.queue import Queue\n")


@pytest.mark.slow
def test_importing_the_queue_loads_nothing_but_the_core() -> None:
    code = ("import sys, ingestq.core.queue, ingestq.core.queries, ingestq.core.connection\n"
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('ingestq'))))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    loaded = res.stdout.split()
    assert "ingestq.core.queue" in loaded
    assert [m for m in loaded if part_of(m) not in {"", "core", *BASE}] == []
