"""`doctor`: is this queue safe to run on? Server, persistence, memory, clocks, liveness, config.

Each check says what it found and, when it needs attention, what to do about it.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from redis import Redis
from redis.exceptions import RedisError, ResponseError

from ingestq.config import IngestSettings, is_loopback
from ingestq.core.connection import EVICTING_SAFE
from ingestq.core.embedded import EmbeddedServer
from ingestq.core.queue import Queue
from ingestq.core.snapshot import take
from ingestq.mcp.settings import http_route_state
from ingestq.ops import health
from ingestq.ops.health import Finding as Check  # a doctor check is a finding: one shape
from ingestq.redaction import redact

MAX_SKEW_SECONDS = 2.0  # beyond this, ages read against local time mislead operators
MEMORY_ATTENTION = 0.8  # share of maxmemory in use that deserves a look before writes fail


@dataclass(frozen=True)
class DoctorReport:
    """All findings (documented shape of `doctor --json`)."""

    mode: str  # embedded | url
    server: str  # socket path or redacted URL
    version: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing needs attention."""
        return all(c.ok for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"ok": self.ok, "mode": self.mode, "server": self.server,
                "version": self.version, "checks": [asdict(c) for c in self.checks]}


def _config_get(client: Redis, name: str) -> str | None:
    try:
        return str(client.config_get(name).get(name, ""))
    except ResponseError:
        return None  # CONFIG is disabled on some managed servers


def check_persistence(client: Redis) -> Check:
    """AOF with an fsync policy that keeps at most a second of changes at risk."""
    aof = bool(int(client.info("persistence").get("aof_enabled", 0)))
    fsync = _config_get(client, "appendfsync")
    save = _config_get(client, "save")
    fix = "enable AOF: appendonly yes, appendfsync everysec (CONFIG SET and the server's config)"
    if aof and fsync in ("everysec", "always"):
        return Check("persistence", True, f"AOF on, appendfsync {fsync}")
    if aof and fsync is None:
        return Check("persistence", True, "AOF on (fsync policy hidden: CONFIG is disabled)")
    if aof:
        return Check("persistence", False,
                     f"AOF on but appendfsync {fsync}: the OS decides when jobs reach the disk",
                     "set appendfsync everysec")
    if save:
        return Check("persistence", False, f"no AOF, RDB snapshots only (save {save}): a crash "
                     "loses every job change since the last snapshot", fix)
    return Check("persistence", False, "no AOF and no RDB snapshots: a server restart loses "
                 "every job", fix)


def check_eviction(client: Redis) -> Check:
    """The memory policy must never evict job records."""
    policy = _config_get(client, "maxmemory-policy")
    if policy is None:
        return Check("maxmemory-policy", True, "unknown (CONFIG is disabled); make sure it is "
                     "noeviction")
    if policy in EVICTING_SAFE:
        return Check("maxmemory-policy", True, policy)
    return Check("maxmemory-policy", False,
                 f"{policy}: under memory pressure the server evicts keys, job records included",
                 "set maxmemory-policy noeviction")


def check_memory(client: Redis) -> Check:
    """Memory in use against the limit."""
    info = client.info("memory")
    used = int(info.get("used_memory", 0))
    limit = int(info.get("maxmemory", 0))
    human = str(info.get("used_memory_human", f"{used}B"))
    if not limit:
        return Check("memory", True, f"{human} used, no maxmemory limit")
    share = used / limit
    detail = f"{human} used of {limit} bytes ({share:.0%})"
    if share < MEMORY_ATTENTION:
        return Check("memory", True, detail)
    return Check("memory", False, detail + ": near the limit, writes (enqueues) will fail",
                 "raise maxmemory, or purge dead jobs (ingestctl dead purge) and lower "
                 "ingest.queue.done_retention_*")


def check_clock(client: Redis) -> Check:
    """Skew between this machine's clock and the server's TIME (midpoint of the round trip)."""
    before = time.time()
    sec, usec = client.time()
    after = time.time()
    skew = int(sec) + int(usec) / 1e6 - (before + after) / 2
    detail = f"{skew:+.3f} s (server minus local; round trip {(after - before) * 1000:.1f} ms)"
    if abs(skew) <= MAX_SKEW_SECONDS:
        return Check("clock skew", True, detail)
    return Check("clock skew", False, detail + ": leases use the server's clock and stay "
                 "correct, but ages and times read here are off by as much",
                 "synchronise both machines with NTP (chrony or systemd-timesyncd)")


def check_liveness(queue: Queue) -> list[Check]:
    """The shared health rules (workers, reaper, stale leases, unserved kinds, stuck slots) on
    one snapshot: the same verdicts `status`, `/readyz` and `/metrics` give."""
    return health.assess(take(queue), queue.settings.queue_recovery)


def config_problems(settings: IngestSettings) -> list[str]:
    """Valid but risky combinations of settings."""
    rc = settings.queue_recovery
    out = []
    if rc.heartbeat_seconds * 2 > rc.lease_seconds:
        out.append(f"queue_recovery.heartbeat_seconds ({rc.heartbeat_seconds:g}) allows fewer "
                   f"than two beats per lease_seconds ({rc.lease_seconds:g}): one slow beat "
                   "loses a healthy job's lease; keep heartbeat at about lease/3")
    if rc.job_timeout_seconds < rc.lease_seconds:
        out.append(f"queue_recovery.job_timeout_seconds ({rc.job_timeout_seconds:g}) is shorter "
                   f"than lease_seconds ({rc.lease_seconds:g}); raise the timeout")
    svc = settings.service
    if not is_loopback(svc.host) and not svc.token:
        out.append(f"service.host is {svc.host} with no service.token: the service is open to "
                   "the network and refuses every mutating route; set INGESTQ_SERVICE_TOKEN")
    return out


def run_doctor(queue: Queue, config_file: str | None = None) -> DoctorReport:
    """Every check against this queue's server and settings."""
    s = queue.settings
    info = queue.client.info("server")
    version = str(info.get("valkey_version") or info.get("redis_version", "?"))
    name = "valkey" if info.get("valkey_version") or info.get("server_name") == "valkey" \
        else "redis"
    mode = "url" if s.redis.url else "embedded"
    where = redact(s.redis.url) if s.redis.url else str(EmbeddedServer(s.data_dir).socket)
    checks = [Check("server", True, f"{name} {version}, {mode} ({where})")]
    for probe in (check_persistence, check_eviction, check_memory, check_clock):
        try:
            checks.append(probe(queue.client))
        except RedisError as exc:  # an ACL may forbid INFO or TIME: report it, keep going
            checks.append(Check(probe.__name__.removeprefix("check_"), False,
                                f"could not check: {exc}", "grant INFO, CONFIG GET and TIME"))
    checks.extend(check_liveness(queue))
    app_settings = IngestSettings.extending(s)
    problems = config_problems(app_settings)
    source = config_file or "defaults and environment"
    checks.append(Check("config", not problems, f"valid ({source})" if not problems
                        else "; ".join(problems),
                        None if not problems else "adjust the settings named above"))
    # MCP over HTTP (issue 10): informational, never a failure; stdio needs no token.
    checks.append(Check("mcp http", True, http_route_state(app_settings.service.token)[1]))
    return DoctorReport(mode=mode, server=where, version=version, checks=checks)
