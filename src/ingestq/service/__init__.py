"""The HTTP service: enqueue, job status, dead letters, ingestion, metrics and health."""
