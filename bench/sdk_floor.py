"""The MCP SDK's own cost per call: a server whose `search` returns a canned result.

bench/mcp.py starts it over stdio and over streamable HTTP with a result `ingestctl mcp` gave
(same hits, same output schema), so the calls to it cost what the SDK and the transport cost
with no search and none of ingestq's work: the floor under the "added over in-process" figure.

    python bench/sdk_floor.py CANNED.json stdio
    python bench/sdk_floor.py CANNED.json http PORT
"""

from __future__ import annotations

import gc
import json
import sys
from pathlib import Path
from typing import Annotated

# This folder holds bench/mcp.py: with it on sys.path, `import mcp` would import that file.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

from mcp.server.mcpserver import MCPServer  # noqa: E402
from mcp_types import CallToolResult, TextContent  # noqa: E402

from ingestq.mcp.models import SearchOutput  # noqa: E402


def main() -> None:
    canned = json.loads(Path(sys.argv[1]).read_text())
    server: MCPServer[object] = MCPServer("sdk-floor", log_level="WARNING")

    @server.tool(structured_output=True)
    def search(query: str, k: int = 10) -> Annotated[CallToolResult, SearchOutput]:
        """The canned result, whatever the query (a sync tool, as ingestq's are)."""
        return CallToolResult(content=[TextContent(type="text", text=canned["text"])],
                              structured_content=canned["structured"])

    gc.freeze()  # as ingestctl mcp does once its command is known (ingestq.cli.startup)
    if sys.argv[2] == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", port=int(sys.argv[3]))


if __name__ == "__main__":
    main()
