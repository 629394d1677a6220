"""Where the tests find the FastAPI documentation corpus (tests/corpus): one rule for all."""

from __future__ import annotations

from pathlib import Path

FASTAPI_DOCS = Path(__file__).resolve().parents[1] / "corpus" / "fastapi-docs"
FASTAPI_EN = FASTAPI_DOCS / "en"
