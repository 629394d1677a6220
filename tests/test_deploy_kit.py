"""Checks of the operations kit under deploy/ and of docker-compose.yml.

promtool validates the rules, their unit tests, the Prometheus config and every dashboard query;
a real Prometheus scrapes a sample exposition to prove tests/support/promtool.py works end to end.
The compose file and the Kubernetes manifests are parsed and checked for the settings the queue
relies on (persistence flags, grace periods, probes), and their ingestq config is validated by
ingestq's own loader.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.promtool import PrometheusBinaries, PrometheusServer, require_binaries, run_promtool

ROOT = Path(__file__).resolve().parents[1]
PROM = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "ingestq-dashboard.json"
COMPOSE = ROOT / "docker-compose.yml"
K8S = ROOT / "deploy" / "k8s"
DEFAULT_SHUTDOWN_GRACE_S = 25.0  # ingestq's worker.shutdown_grace_seconds default
REQUIRED_ALERTS = {"HighStaleJobCount", "SlowProcessing", "DLQGrowing", "NoLiveWorkers",
                   "ReaperStalled", "BacklogGrowing"}
RUNBOOK_COMMANDS = ("ingestctl status", "ingestctl clean --dry-run", "ingestctl dead list",
                    "ingestctl workers", "ingestctl doctor")
# Grafana variables and what a real query would see in their place.
GRAFANA_VARS = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h",
                "${queue}": "ingest", "$queue": "ingest"}
# Counters and cumulative histograms, the only inputs that rate()/increase() make sense for.
RATE_OK = re.compile(r"^ingest_\w+_total$|^ingest_job_duration_seconds_(bucket|sum|count)$")
METRIC = re.compile(r"\bingest_[a-z_]+\b")


@pytest.fixture(scope="module")
def tools() -> PrometheusBinaries:
    """promtool and prometheus, or a skip (a failure under CI)."""
    return require_binaries()


def _passes(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, f"promtool failed:\n{result.stdout}\n{result.stderr}"


def _alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load((PROM / "alerts.yml").read_text())["groups"]
    (group,) = [g for g in groups if g["name"] == "ingestion_queue"]
    return [r for r in group["rules"] if "alert" in r]


def _dashboard_targets() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    board = json.loads(DASHBOARD.read_text())
    pairs = []
    for panel in board["panels"]:
        for inner in [panel, *panel.get("panels", [])]:
            pairs += [(inner, t) for t in inner.get("targets", [])]
    return pairs


def _as_promql(expr: str) -> str:
    for var, value in GRAFANA_VARS.items():
        expr = expr.replace(var, value)
    return expr


def test_alert_rules_pass_promtool_check(tools: PrometheusBinaries) -> None:
    _passes(run_promtool(tools, "check", "rules", str(PROM / "alerts.yml")))


def test_alert_rules_pass_their_promtool_unit_tests(tools: PrometheusBinaries) -> None:
    _passes(run_promtool(tools, "test", "rules", str(PROM / "alerts_test.yml")))


def test_prometheus_config_passes_promtool_check_from_any_directory(
        tools: PrometheusBinaries, tmp_path: Path) -> None:
    # rule_files and file_sd paths are relative to the config file, not to the caller's cwd.
    _passes(run_promtool(tools, "check", "config", str(PROM / "prometheus.yml"), cwd=tmp_path))


def test_every_required_alert_has_for_severity_summary_description_and_runbook() -> None:
    rules = {r["alert"]: r for r in _alert_rules()}
    assert set(rules) >= REQUIRED_ALERTS, f"missing: {REQUIRED_ALERTS - set(rules)}"
    for name, rule in rules.items():
        assert re.fullmatch(r"\d+[smh]", str(rule.get("for", ""))), f"{name}: no 'for'"
        assert rule["labels"]["severity"] in {"warning", "critical"}, name
        notes = rule["annotations"]
        assert notes["summary"] and notes["description"], name
        assert notes["runbook"].startswith(RUNBOOK_COMMANDS), f"{name}: {notes['runbook']!r}"


def test_every_alert_has_a_unit_test_that_fires_it_beside_series_that_must_not() -> None:
    suite = yaml.safe_load((PROM / "alerts_test.yml").read_text())
    proven: set[str] = set()
    for case in suite["tests"]:
        # Label values (queue, instance, reason) present in the input: those that no expected
        # alert carries belong to series that must stay quiet.
        present = set(re.findall(r'\b(queue|instance|reason)="([^"]+)"',
                                 " ".join(s["series"] for s in case["input_series"])))
        for check in case["alert_rule_test"]:
            fired = {(k, v) for a in check.get("exp_alerts") or []
                     for k, v in a["exp_labels"].items()}
            if fired and present - fired:
                proven.add(check["alertname"])
    assert {r["alert"] for r in _alert_rules()} <= proven


def test_no_rule_or_panel_takes_rate_of_a_gauge_or_deriv_of_a_counter() -> None:
    exprs = [r["expr"] for r in _alert_rules()] + [t["expr"] for _, t in _dashboard_targets()]
    for expr in exprs:
        for func, metric in re.findall(r"\b(rate|irate|increase|deriv|delta)\(\s*(\w+)", expr):
            if func in ("rate", "irate", "increase"):
                assert RATE_OK.match(metric), f"{func}() over non-counter {metric}: {expr}"
            else:
                assert not RATE_OK.match(metric), f"{func}() over counter {metric}: {expr}"


def test_every_dashboard_query_is_valid_promql(tools: PrometheusBinaries, tmp_path: Path) -> None:
    targets = _dashboard_targets()
    assert targets, "the dashboard has no queries"
    rules = [{"record": f"dashboard:panel{panel['id']}_{target['refId']}",
              "expr": _as_promql(target["expr"])} for panel, target in targets]
    leftover = [r["expr"] for r in rules if "$" in r["expr"]]
    assert not leftover, f"unsubstituted Grafana variables: {leftover}"
    rules_file = tmp_path / "dashboard_rules.yml"
    rules_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    _passes(run_promtool(tools, "check", "rules", str(rules_file)))


def test_dashboard_has_every_required_panel() -> None:
    exprs = {t["expr"] for _, t in _dashboard_targets()}
    used = {m for e in exprs for m in METRIC.findall(e)}
    assert {"ingest_queue_depth", "ingest_stale_jobs_current", "ingest_dead_jobs_total",
            "ingest_jobs_reaped_total", "ingest_reaper_last_run_timestamp_seconds",
            "ingest_jobs_total", "ingest_workers_alive",
            "ingest_oldest_pending_age_seconds"} <= used
    snapshot = [e for e in exprs if "ingest_processing_age_seconds_bucket" in e]
    for q in ("0.5", "0.95"):
        assert any(e.startswith(f"histogram_quantile({q},") for e in snapshot), f"age p{q}"
    for q in ("0.5", "0.95", "0.99"):
        assert any(e.startswith(f"histogram_quantile({q}, sum by (le, kind) (rate("
                                f"ingest_job_duration_seconds_bucket") for e in exprs), q
    assert any("rate(ingest_jobs_reaped_total" in e and "by (action)" in e for e in exprs)
    assert any('outcome="completed"' in e and "by (kind)" in e for e in exprs)
    heatmaps = [t for p, t in _dashboard_targets() if p["type"] == "heatmap"]
    assert any("ingest_processing_age_seconds_bucket" in t["expr"] for t in heatmaps)


def test_dashboard_declares_queue_and_datasource_variables_used_by_every_panel() -> None:
    board = json.loads(DASHBOARD.read_text())
    assert 36 <= board["schemaVersion"] <= 41
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["queue"]["type"] == "query"
    for panel, target in _dashboard_targets():
        assert target["datasource"]["uid"] == "${datasource}", panel["title"]
        if "ingest_http_requests_total" not in target["expr"]:
            assert 'queue="$queue"' in target["expr"], f"{panel['title']}: {target['expr']}"


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def test_compose_runs_valkey_persistent_and_without_eviction() -> None:
    valkey = _compose()["services"]["valkey"]
    command = " ".join(valkey["command"])
    for flag in ("--appendonly yes", "--appendfsync everysec", "--maxmemory-policy noeviction"):
        assert flag in command
    assert any(v.endswith(":/data") for v in valkey["volumes"])


def test_compose_worker_is_scalable_and_outlasts_its_shutdown_grace() -> None:
    services = _compose()["services"]
    worker = services["worker"]
    assert "container_name" not in worker
    assert worker["deploy"]["replicas"] >= 1
    assert worker["command"] == ["ingestctl", "worker"]
    assert worker["environment"]["INGESTQ_REDIS_URL"] == "redis://valkey:6379/0"
    assert _seconds(worker["stop_grace_period"]) > _shutdown_grace(ROOT / "deploy/ingestq.yaml")
    assert services["service"]["command"][:2] == ["ingestctl", "serve"]
    assert "INGESTQ_SERVICE_TOKEN" in services["service"]["environment"]
    assert services["reaper"]["command"] == ["ingestctl", "reaper"]


def test_compose_wires_prometheus_grafana_and_jaeger_to_files_that_exist() -> None:
    services = _compose()["services"]
    assert {"valkey", "qdrant", "neo4j", "prometheus", "grafana", "jaeger"} <= set(services)
    ports = " ".join(services["jaeger"]["ports"])
    assert ":4317:4317" in ports and ":4318:4318" in ports
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./deploy"):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"


@pytest.mark.slow
def test_compose_config_is_accepted_by_docker_compose_when_available() -> None:
    if shutil.which("docker-compose"):
        command = ["docker-compose", "-f", str(COMPOSE), "config", "-q"]
    elif shutil.which("docker") and subprocess.run(
            ["docker", "compose", "version"], capture_output=True, check=False).returncode == 0:
        command = ["docker", "compose", "-f", str(COMPOSE), "config", "-q"]
    else:
        pytest.skip("neither docker-compose nor the docker compose plugin is installed")
    env = {**os.environ, "INGESTQ_SERVICE_TOKEN": "t", "NEO4J_PASSWORD": "p",
           "GRAFANA_ADMIN_PASSWORD": "g"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False,
                            cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr


def _k8s_docs() -> dict[tuple[str, str], dict[str, Any]]:
    docs = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            docs[(doc["kind"], doc.get("metadata", {}).get("name", path.name))] = doc
    return docs


def test_kustomization_lists_every_manifest_except_the_secret_template() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk - {"secret.example.yaml"}


def test_k8s_worker_grace_period_covers_shutdown_grace_with_margin() -> None:
    worker = _k8s_docs()[("Deployment", "ingestq-worker")]["spec"]["template"]["spec"]
    configmap = _k8s_docs()[("ConfigMap", "ingestq-config")]
    grace = _shutdown_grace_text(configmap["data"]["ingestq.yaml"])
    # The margin covers handing unfinished jobs back and the process exit after the grace.
    assert worker["terminationGracePeriodSeconds"] >= grace + 5


def test_k8s_service_probes_health_endpoints_and_carries_scrape_annotations() -> None:
    docs = _k8s_docs()
    pod = docs[("Deployment", "ingestq-service")]["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert pod["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == "8081"
    assert docs[("Service", "ingestq-service")]["spec"]["ports"][0]["port"] == 8081
    assert docs[("Deployment", "ingestq-reaper")]["spec"]["template"]["spec"]["containers"][0][
        "command"] == ["ingestctl", "reaper"]


@pytest.mark.slow
def test_k8s_manifests_render_with_kustomize_when_kubectl_is_available() -> None:
    if not shutil.which("kubectl"):
        pytest.skip("kubectl is not installed")
    result = subprocess.run(["kubectl", "kustomize", str(K8S)], capture_output=True, text=True,
                            check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    kinds = [d["kind"] for d in yaml.safe_load_all(result.stdout)]
    assert sorted(kinds) == ["ConfigMap", "Deployment", "Deployment", "Deployment", "Namespace",
                             "PersistentVolumeClaim", "Service"]


def test_compose_and_k8s_ship_the_same_ingestq_settings() -> None:
    configmap = _k8s_docs()[("ConfigMap", "ingestq-config")]
    assert yaml.safe_load(configmap["data"]["ingestq.yaml"]) == yaml.safe_load(
        (ROOT / "deploy/ingestq.yaml").read_text())


def test_shipped_ingestq_config_and_env_validate_against_the_config_schema() -> None:
    config = pytest.importorskip("ingestq.config")
    env = {k: str(v) for k, v in _compose()["services"]["service"]["environment"].items()
           if k.startswith("INGESTQ_") and k != "INGESTQ_CONFIG"}
    loaded = config.load_config(ROOT / "deploy/ingestq.yaml", environ=env)
    assert loaded.ingest.redis.url == "redis://valkey:6379/0"
    assert loaded.ingest.worker.shutdown_grace_seconds == _shutdown_grace(
        ROOT / "deploy/ingestq.yaml")


def _shutdown_grace_text(text: str) -> float:
    worker = (yaml.safe_load(text) or {}).get("ingest", {}).get("worker", {})
    return float(worker.get("shutdown_grace_seconds", DEFAULT_SHUTDOWN_GRACE_S))


def _shutdown_grace(path: Path) -> float:
    return _shutdown_grace_text(path.read_text())


def _seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+)(s|m)", duration)
    assert match, f"unsupported duration {duration!r}"
    return int(match[1]) * (60 if match[2] == "m" else 1)


EXPOSITION = """\
# TYPE ingest_queue_depth gauge
ingest_queue_depth{queue="ingest",state="queued"} 7
ingest_queue_depth{queue="ingest",state="processing"} 2
# TYPE ingest_workers_alive gauge
ingest_workers_alive{queue="ingest"} 3
# TYPE ingest_processing_age_seconds histogram
ingest_processing_age_seconds_bucket{queue="ingest",le="30"} 1
ingest_processing_age_seconds_bucket{queue="ingest",le="60"} 1
ingest_processing_age_seconds_bucket{queue="ingest",le="120"} 2
ingest_processing_age_seconds_bucket{queue="ingest",le="300"} 2
ingest_processing_age_seconds_bucket{queue="ingest",le="600"} 2
ingest_processing_age_seconds_bucket{queue="ingest",le="+Inf"} 2
ingest_processing_age_seconds_sum{queue="ingest"} 95.5
ingest_processing_age_seconds_count{queue="ingest"} 2
"""


class _MetricsHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = EXPOSITION.encode()
        self.send_response(200 if self.path == "/metrics" else 404)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep the test output clean


@pytest.fixture
def metrics_endpoint() -> Iterator[str]:
    """A stdlib HTTP server serving EXPOSITION on /metrics; yields host:port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _MetricsHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_real_prometheus_scrapes_the_endpoint_and_answers_instant_queries(
        tools: PrometheusBinaries, metrics_endpoint: str, tmp_path: Path) -> None:
    config = yaml.safe_dump({
        "global": {"scrape_interval": "1s"},
        "scrape_configs": [{"job_name": "ingestq-service",
                            "static_configs": [{"targets": [metrics_endpoint]}]}]})
    with PrometheusServer.start(tools, config, tmp_path / "prom") as prom:
        (queued,) = prom.wait_for_query('ingest_queue_depth{state="queued"}')
        assert queued.value == 7.0
        assert queued.labels["queue"] == "ingest"
        assert queued.labels["instance"] == metrics_endpoint
        (p50,) = prom.query(
            "histogram_quantile(0.5, max by (le) (ingest_processing_age_seconds_bucket))")
        assert p50.value == 30.0  # rank 1 of 2 falls at the top of the first bucket


def test_a_real_prometheus_loads_the_shipped_config_and_every_alert_rule(
        tools: PrometheusBinaries, tmp_path: Path) -> None:
    workdir = tmp_path / "prom"
    shutil.copytree(PROM, workdir)
    with PrometheusServer.start(tools, (PROM / "prometheus.yml").read_text(), workdir) as prom:
        groups = prom.api("/api/v1/rules")["data"]["groups"]
    loaded = {r["name"] for g in groups for r in g["rules"]}
    assert loaded == {r["alert"] for r in _alert_rules()}
