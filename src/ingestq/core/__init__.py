"""The queue core: Redis keys, the Lua transitions, the job record, queries, the worker registry.

It knows nothing of the worker runtime, ingestion, the CLI, the service or ops (see the module
map in ``docs/architecture.md``).
"""
