"""The deploy kit is wired to what ingestq accepts: every manifest validates against the
Kubernetes schemas (kubernetes-validate), and every env var, command, port, probe and mount in
the compose file and the manifests is one the CLI, the config loader and the service accept.

`docker compose config` runs in tests/test_deploy_kit.py where the plugin exists (not on this
project's machines, which have no docker engine or compose plugin: that test skips, saying so).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from ingestq.cli.main import app
from ingestq.config import load_config

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
COMPOSE = ROOT / "docker-compose.yml"
SHIPPED = ROOT / "deploy" / "ingestq.yaml"
K8S_VERSION = "1.32.0"  # the kubectl on the project's machines; any recent minor would do
SAMPLES = {"INGESTQ_REDIS_URL": "redis://valkey:6379/0", "INGESTQ_SERVICE_TOKEN": "t"}
OTEL_READ = {"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME"}  # what ingestq.tracing reads


def k8s_resources() -> list[dict[str, Any]]:
    listed = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    return [doc for name in listed for doc in yaml.safe_load_all((K8S / name).read_text())]


def k8s_containers() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(pod spec, container) of every Deployment."""
    return [(d["spec"]["template"]["spec"], c) for d in k8s_resources()
            if d["kind"] == "Deployment" for c in d["spec"]["template"]["spec"]["containers"]]


def compose_ingestq_services() -> dict[str, dict[str, Any]]:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    return {name: s for name, s in services.items() if s.get("image", "").startswith("ingestq")}


def shipped() -> Any:
    return load_config(SHIPPED, environ={}).ingest


def test_every_manifest_validates_against_the_kubernetes_schema() -> None:
    kv = pytest.importorskip("kubernetes_validate")
    for doc in k8s_resources():
        kv.validate(doc, K8S_VERSION, strict=True)  # raises naming the bad field


def test_the_kustomize_output_validates_when_kubectl_is_available() -> None:
    kv = pytest.importorskip("kubernetes_validate")
    if not shutil.which("kubectl"):
        pytest.skip("kubectl is not installed (the manifests are validated one by one above)")
    rendered = subprocess.run(["kubectl", "kustomize", str(K8S)], capture_output=True,
                              text=True, check=True, timeout=60).stdout
    docs = list(yaml.safe_load_all(rendered))
    assert docs and all(d["metadata"].get("namespace") == "ingestq" for d in docs
                        if d["kind"] != "Namespace")
    for doc in docs:
        kv.validate(doc, K8S_VERSION, strict=True)


def env_names() -> list[tuple[str, str, str | None]]:
    """(where, name, literal value or None) for every env var given to an ingestq container."""
    out: list[tuple[str, str, str | None]] = []
    for name, service in compose_ingestq_services().items():
        for key, value in service["environment"].items():
            out.append((f"compose {name}", key, None if "${" in str(value) else str(value)))
    for _, c in k8s_containers():
        for e in c.get("env", []):
            out.append((f"k8s {c['name']}", e["name"], e.get("value")))
    return out


def test_every_ingestq_env_var_in_the_kit_is_accepted_by_the_config_loader() -> None:
    for _where, name, value in env_names():
        if not name.startswith("INGESTQ_") or name == "INGESTQ_CONFIG":
            continue
        sample = value if value is not None else SAMPLES[name]
        load_config(SHIPPED, environ={name: sample})  # ConfigError names an unknown variable


def test_every_other_env_var_is_one_ingestq_reads() -> None:
    password_env = shipped().pipeline.store.neo4j_password_env
    for where, name, value in env_names():
        if name.startswith("INGESTQ_"):
            continue
        assert name in OTEL_READ | {password_env}, f"{where}: {name} is read by nothing"
        if name == "OTEL_EXPORTER_OTLP_ENDPOINT":  # the exporter is OTLP over HTTP
            assert value is not None and value.endswith(":4318"), f"{where}: {value}"


def test_the_config_file_named_by_ingestq_config_is_mounted_there() -> None:
    for name, service in compose_ingestq_services().items():
        target = service["environment"]["INGESTQ_CONFIG"]
        assert f"./deploy/ingestq.yaml:{target}:ro" in service["volumes"], name
    for pod, c in k8s_containers():
        (path,) = [e["value"] for e in c["env"] if e["name"] == "INGESTQ_CONFIG"]
        mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
        volume = next(v for v in pod["volumes"] if v["name"] == mounts[str(Path(path).parent)])
        assert volume["configMap"]["name"] == "ingestq-config"


def commands() -> list[tuple[str, list[str]]]:
    out = [(f"compose {n}", s["command"]) for n, s in compose_ingestq_services().items()]
    out += [(f"k8s {c['name']}", c["command"]) for _, c in k8s_containers()]
    return out


@pytest.mark.parametrize("where,command", commands(), ids=[w for w, _ in commands()])
def test_every_container_command_is_an_ingestctl_command_with_valid_options(
        where: str, command: list[str]) -> None:
    assert command[0] == "ingestctl", where
    result = CliRunner().invoke(app, [*command[1:], "--help"])
    assert result.exit_code == 0, f"{where}: {command}: {result.output}"


def serve_port(command: list[str]) -> int:
    return int(command[command.index("--port") + 1])


def test_ports_agree_with_the_serve_command() -> None:
    for _, c in k8s_containers():
        if c["command"][1] != "serve":
            assert "ports" not in c, c["name"]
            continue
        (port,) = c["ports"]
        assert port["containerPort"] == serve_port(c["command"])
    docs = {(d["kind"], d["metadata"]["name"]): d for d in k8s_resources()}
    svc = docs[("Service", "ingestq-service")]["spec"]["ports"][0]
    assert svc["targetPort"] == "http" and svc["port"] == 8081
    compose = compose_ingestq_services()["service"]
    assert compose["ports"] == [f"127.0.0.1:{serve_port(compose['command'])}:8081"]


def routes() -> set[str]:
    from ingestq.service import health
    from ingestq.service import routes as job_routes

    return {r.path for router in (health.router, job_routes.router) for r in router.routes}


def test_every_probe_asks_a_route_the_service_serves_on_a_declared_port() -> None:
    served = routes()
    for _, c in k8s_containers():
        names = {p.get("name") for p in c.get("ports", [])}
        for kind in ("readinessProbe", "livenessProbe"):
            probe = c.get(kind)
            if probe is None:
                continue
            if "httpGet" in probe:
                assert probe["httpGet"]["path"] in served, (c["name"], kind)
                assert probe["httpGet"]["port"] in names, (c["name"], kind)
            else:  # an exec probe: valid Python reading variables the container has
                argv = probe["exec"]["command"]
                assert argv[:2] == ["python", "-c"]
                compile(argv[2], f"{c['name']} {kind}", "exec")
                env = {e["name"] for e in c["env"]}
                assert set(re.findall(r"os\.environ\['(\w+)'\]", argv[2])) <= env
    healthcheck = compose_ingestq_services()["service"]["healthcheck"]["test"]
    assert any(path in " ".join(healthcheck) for path in served if path == "/healthz")


def test_the_ingest_roots_are_mounted_where_documents_are_ingested() -> None:
    roots = shipped().pipeline.roots
    assert roots == ["/docs"]
    for name in ("worker", "service"):
        volumes = compose_ingestq_services()[name]["volumes"]
        assert any(v.endswith(f":{roots[0]}:ro") for v in volumes), name
    for _, c in k8s_containers():
        if c["name"] in ("worker", "service"):
            mount = next(m for m in c["volumeMounts"] if m["mountPath"] == roots[0])
            assert mount["readOnly"] is True


def test_the_server_stores_are_wired_with_their_password_and_the_image_can_reach_them() -> None:
    store = shipped().pipeline.store
    assert store.kind == "server" and store.qdrant_url and store.neo4j_uri
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert {"qdrant", "neo4j"} <= set(services)
    for name, service in compose_ingestq_services().items():
        if name != "reaper":
            assert store.neo4j_password_env in service["environment"], name
    for _, c in k8s_containers():
        if c["name"] in ("worker", "service"):
            assert store.neo4j_password_env in {e["name"] for e in c["env"]}, c["name"]
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    extras = re.search(r'pip install "\.\[([a-z,]+)\]"', dockerfile)
    assert extras is not None and {"server", "tracing"} <= set(extras.group(1).split(","))
