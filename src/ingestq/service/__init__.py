"""The HTTP service: enqueue, job status, dead letters, ingestion, metrics and health.

Run it with ``ingestctl serve [--host H] [--port P]`` (default ``ingest.service.host``
127.0.0.1, ``ingest.service.port`` 8081); build it in code with
:func:`ingestq.service.app.create_app`. The OpenAPI schema is at ``/openapi.json``, the docs page
at ``/docs``.

- Mutating routes (``POST /jobs``, ``/dead/retry``, ``/dead/purge``, ``/ingest``) need
  ``Authorization: Bearer <ingest.service.token or INGESTQ_SERVICE_TOKEN>``: 401 when it is
  missing or wrong, 403 when no token is configured at all.
- Bodies over ``ingest.service.max_body_bytes`` get 413, by Content-Length or while a chunked
  body streams. Every error is ``{"error": "...", "detail": ...}``.
- ``/metrics`` and ``/readyz`` read one snapshot of Redis (three round trips whatever the number
  of jobs, see :mod:`.snapshot`) and answer 503 with the reason when Redis cannot be read.
- ``GET /search?q=&k=`` answers from the service's warm pipeline (embedder loaded once);
  ``ingestctl search`` asks it first. Guarded like the job reads (``service.read_auth``).
- Tracing: see :mod:`ingestq.tracing` (OTLP export when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set).
- Worker processes may serve their own process metrics with
  :func:`ingestq.service.metrics.start_worker_metrics_server` (``ingestctl worker
  --metrics-port [--metrics-addr]``, or ``ingest.worker.metrics_port`` and ``metrics_addr``).
"""

# Names the SQLite store a GET /search answer came from: the CLI takes only its own store's.
STORE_HEADER = "X-Ingestq-Store"
