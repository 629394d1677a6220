"""Service fixtures: the app on the real server, in-process or on a real port."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from fastapi.testclient import TestClient
from promtool import free_port
from redis import Redis
from tests_auth import TOKEN

from ingestq.config import IngestSettings, ServiceSettings
from ingestq.core.queue import Queue
from ingestq.service.app import create_app


@pytest.fixture
def svc_settings(settings: IngestSettings) -> IngestSettings:
    """A unique queue, a token and a small body limit."""
    return settings.model_copy(update={"service": ServiceSettings(token=TOKEN,
                                                                  max_body_bytes=4096)})


@pytest.fixture
def svc_queue(client: Redis, svc_settings: IngestSettings) -> Queue:
    return Queue(client, svc_settings)


@pytest.fixture
def api(svc_queue: Queue) -> Iterator[TestClient]:
    """The app over ASGI, talking to the real server."""
    with TestClient(create_app(svc_queue)) as c:
        yield c


class LiveServer:
    """uvicorn serving an app on a spare loopback port, in a thread."""

    def __init__(self, queue: Queue) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(create_app(queue), host="127.0.0.1",
                                                    port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
