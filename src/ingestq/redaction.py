"""Secrets never printed: the one place that knows which values are secret and how to mask them.

Used by every message, log line and listing that may show a setting (`config show`, `doctor`,
`up`, connection errors, configuration errors), so a rule added here holds everywhere.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "***"
# Settings whose whole value is secret; the Redis URL is masked in part (see redact).
SECRET_KEYS = frozenset({"ingest.service.token"})
URL_KEYS = frozenset({"ingest.redis.url"})

# userinfo of scheme://userinfo@host: everything up to the last '@' before the path
_USERINFO = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<info>[^/?#]*)@")
# password-like query parameters (redis-py reads ?password=; others take ?auth= or ?token=)
_QUERY_SECRET = re.compile(r"(?i)([?&](?:password|pass|pwd|auth|token|secret)=)[^&#]*")


def redact(url: str) -> str:
    """The URL with its password (in the user part or a query parameter) replaced by ***.

    Works on malformed URLs too (a bad port, no scheme): it never parses, only masks.
    """
    def user_part(m: re.Match[str]) -> str:
        info = m.group("info")
        # user:password keeps the user name; a lone component may be a password: masked whole.
        user = info.split(":", 1)[0] if ":" in info else ""
        return f"{m.group('scheme')}{user}:{MASK}@"

    return _QUERY_SECRET.sub(lambda m: m.group(1) + MASK, _USERINFO.sub(user_part, url, 1))


def masked(key: str, value: Any) -> Any:
    """A setting's value as it may be shown: secrets masked, the Redis URL redacted."""
    if value is None:
        return None
    if key in SECRET_KEYS:
        return MASK  # a token shown on screen ends up in terminal logs and screenshots
    if key in URL_KEYS:
        return redact(str(value))
    return value
