"""The MCP server: assistants search, read and walk the ingested documentation.

One module builds the server (:mod:`.server`); ``ingestctl mcp`` serves it over stdio and the
HTTP service mounts it as streamable HTTP at ``/mcp`` (:mod:`.http`). Reads go through
:class:`.library.Library`, which opens the stores and the embedder once per process.
:mod:`.client` is the SDK's client on this server (``ingestctl eval --via``, ``bench/mcp.py``).

This package's ``__init__`` imports nothing, so the config loader can import :mod:`.settings`
without loading the MCP SDK.
"""
