"""docs/cli.md's `--json` shapes (the ```json blocks after `<!-- shape: COMMAND -->`) and how a
command's real output is compared with one."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CLI_MD = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
# Objects whose keys are data (kinds, event fields, payloads, query types), not part of the shape.
OPEN = {"fields", "unserved_pending", "actions", "payload", "result", "context", "by_type"}


def documented_shapes() -> dict[str, Any]:
    """Every documented shape by its command line."""
    text = CLI_MD.read_text()
    found = re.findall(r"<!-- shape: ([^\n]+?) -->\n```json\n(.*?)\n```", text, re.S)
    return {command: json.loads(body) for command, body in found}


def shape_errors(doc: Any, actual: Any, where: str = "$") -> Iterator[str]:
    """Where ``actual`` differs in structure from the documented example."""
    if isinstance(doc, dict):
        if not isinstance(actual, dict):
            yield f"{where}: documented an object, got {type(actual).__name__}"
            return
        if where.rsplit(".", 1)[-1] in OPEN:
            return
        if set(doc) != set(actual):
            yield (f"{where}: keys missing from output {sorted(set(doc) - set(actual))}, "
                   f"undocumented {sorted(set(actual) - set(doc))}")
        for key in set(doc) & set(actual):
            yield from shape_errors(doc[key], actual[key], f"{where}.{key}")
    elif isinstance(doc, list):
        if not isinstance(actual, list):
            yield f"{where}: documented an array, got {type(actual).__name__}"
        elif doc and actual:
            yield from shape_errors(doc[0], actual[0], f"{where}[0]")
