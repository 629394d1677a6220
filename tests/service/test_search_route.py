"""GET /search answers from the service's warm pipeline, and `ingestctl search` asks it first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from redis import Redis
from typer.testing import CliRunner

from ingestq.cli.main import app
from ingestq.config import IngestSettings
from ingestq.core.queue import Queue
from ingestq.ingest.pipeline import Pipeline
from ingestq.ingest.settings import PipelineSettings, StoreSettings
from ingestq.logs import configure_logging

from .conftest import LiveServer

PAGE = "# Otters\n\nSea otters hold hands while they sleep.\n\n## Tools\n\nThey crack shells.\n"


@pytest.fixture
def store_settings(svc_settings: IngestSettings, tmp_path: Path) -> IngestSettings:
    """The service's settings with their own SQLite store, holding one ingested page."""
    pipeline_settings = PipelineSettings(store=StoreSettings(
        sqlite_path=str(tmp_path / "store.sqlite3")))
    (tmp_path / "otters.md").write_text(PAGE)
    pipeline = Pipeline.open(pipeline_settings, tmp_path)
    pipeline.ingest_file(str(tmp_path / "otters.md"))
    return svc_settings.model_copy(update={"pipeline": pipeline_settings})


def cli_search(settings: IngestSettings, port: int, sqlite_path: str) -> list[dict]:
    env = {"INGESTQ_DATA_DIR": settings.data_dir, "INGESTQ_SERVICE__PORT": str(port),
           "INGESTQ_PIPELINE__STORE__SQLITE_PATH": sqlite_path}
    try:
        result = CliRunner().invoke(app, ["search", "--json", "sea otters sleep"], env=env)
    finally:
        configure_logging()  # the runner's stderr is closed now: later loggers must not use it
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def search_count(server: LiveServer) -> float:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics") as reply:
        text = reply.read().decode()
    lines = [line for line in text.splitlines()
             if line.startswith("ingest_http_requests_total") and 'route="/search"' in line]
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines)


def test_the_route_returns_what_the_cli_prints_and_names_its_store(client: Redis,
                                                                   store_settings):
    from fastapi.testclient import TestClient

    from ingestq.service.app import create_app

    with TestClient(create_app(Queue(client, store_settings))) as api:
        reply = api.get("/search", params={"q": "sea otters", "k": 1})
        assert reply.status_code == 200
        assert reply.headers["X-Ingestq-Store"] == str(
            Path(store_settings.pipeline.store.sqlite_path).resolve())
        [hit] = reply.json()
        assert hit["heading_path"] == ["Otters"] and "**otters**" in hit["snippet"].lower()
        assert api.get("/search", params={"q": "x" * 1001}).status_code == 422
        assert api.get("/search", params={"q": "otters", "k": 201}).status_code == 422


def test_the_cli_asks_a_running_service_of_its_store_and_searches_itself_otherwise(
        client: Redis, store_settings, tmp_path):
    sqlite_path = str(store_settings.pipeline.store.sqlite_path)
    with LiveServer(Queue(client, store_settings)) as server:
        before = search_count(server)
        served = cli_search(store_settings, server.port, sqlite_path)
        assert search_count(server) == before + 1
        assert served[0]["heading_path"] == ["Otters"]
        # another store: the service's answer is not taken, this process searches its own
        other = tmp_path / "other.sqlite3"
        assert cli_search(store_settings, server.port, str(other)) == []
        assert search_count(server) == before + 2
    # no service: the same results, searched here
    assert cli_search(store_settings, server.port, sqlite_path) == served


def test_beyond_loopback_the_route_needs_the_token_like_the_job_reads(client: Redis,
                                                                      store_settings):
    from fastapi.testclient import TestClient
    from support.auth import TOKEN

    from ingestq.service.app import create_app

    with TestClient(create_app(Queue(client, store_settings), host="0.0.0.0")) as api:
        assert api.get("/search", params={"q": "otters"}).status_code == 401
        authorised = api.get("/search", params={"q": "otters"},
                             headers={"Authorization": f"Bearer {TOKEN}"})
        assert authorised.status_code == 200 and authorised.json()


@pytest.fixture
def versioned_settings(svc_settings: IngestSettings, tmp_path: Path) -> IngestSettings:
    """A store holding otters.md as zoo 1.0 and, with one section changed, as zoo 2.0."""
    from ingestq.ingest.parsing.identity import Labels

    pipeline_settings = PipelineSettings(store=StoreSettings(
        sqlite_path=str(tmp_path / "versions.sqlite3")))
    page = tmp_path / "otters.md"
    pipeline = Pipeline.open(pipeline_settings, tmp_path)
    page.write_text(PAGE)
    pipeline.ingest_file(str(page), labels=Labels("zoo", "1.0"))
    page.write_text(PAGE.replace("They crack shells.", "They juggle pebbles."))
    pipeline.ingest_file(str(page), labels=Labels("zoo", "2.0"))
    return svc_settings.model_copy(update={"pipeline": pipeline_settings})


def test_the_route_filters_on_collection_and_version(client: Redis, versioned_settings):
    from fastapi.testclient import TestClient

    from ingestq.service.app import create_app

    def versions(**params: str) -> list[tuple[str, str]]:
        reply = api.get("/search", params={"q": "shells pebbles", "k": 10, **params})
        assert reply.status_code == 200, reply.text
        return [(h["collection"], h["version"]) for h in reply.json()]

    with TestClient(create_app(Queue(client, versioned_settings))) as api:
        assert set(versions()) == {("zoo", "2.0")}  # the newest
        assert set(versions(version="1.0")) == {("zoo", "1.0")}
        assert set(versions(version="*")) == {("zoo", "1.0"), ("zoo", "2.0")}
        assert set(versions(version="1.*", collection="zoo")) == {("zoo", "1.0")}
        assert versions(collection="aquarium") == []
        tools = api.get("/search", params={"q": "pebbles", "version": "1.0"}).json()
        assert not any("pebbles" in h["snippet"] for h in tools)
        assert api.get("/search", params={"q": "otters", "version": "1*0"}).status_code == 422


def test_cli_search_filters_in_process_and_through_the_service(client: Redis,
                                                               versioned_settings):
    sqlite_path = str(versioned_settings.pipeline.store.sqlite_path)

    def cli(port: int, *args: str) -> list[dict]:
        env = {"INGESTQ_DATA_DIR": versioned_settings.data_dir,
               "INGESTQ_SERVICE__PORT": str(port),
               "INGESTQ_PIPELINE__STORE__SQLITE_PATH": sqlite_path}
        try:
            result = CliRunner().invoke(app, ["search", "--json", "pebbles shells", *args],
                                        env=env)
        finally:
            configure_logging()
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    from support.promtool import free_port

    with LiveServer(Queue(client, versioned_settings)) as server:
        before = search_count(server)
        for port in (server.port, free_port()):  # the service answers, then this process
            assert {h["version"] for h in cli(port, "--version", "1.0")} == {"1.0"}
            assert {h["version"] for h in cli(port)} == {"2.0"}
            assert {h["version"] for h in cli(port, "--version", "*")} == {"1.0", "2.0"}
        assert search_count(server) == before + 3
    try:
        bad = CliRunner().invoke(app, ["search", "x", "--version", "a*b"])
    finally:
        configure_logging()
    assert bad.exit_code == 2 and "reserved" in bad.output
