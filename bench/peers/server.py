"""A throwaway redis-server for one benchmark run: spare port, no persistence."""

from __future__ import annotations

import socket
import subprocess
import time

from redis import Redis

REDIS_SERVER = "/usr/bin/redis-server"


def spare_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """Debian's redis-server on a spare port, started and stopped by this process."""

    def __init__(self) -> None:
        self.port = spare_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        """The URL of one db number on this server."""
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        """Start the server and wait until it answers PING."""
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                Redis.from_url(self.url()).ping()
                return
            except OSError:
                pass
            except Exception:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.05)

    def client(self, db: int = 0) -> Redis:
        """A client on one db number."""
        return Redis.from_url(self.url(db))

    def version(self) -> str:
        """The server's version."""
        return str(self.client().info("server")["redis_version"])

    def stop(self) -> None:
        """Stop the server (it has no data worth saving)."""
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
