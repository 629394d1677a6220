"""The bearer token the service tests configure."""

from __future__ import annotations

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
