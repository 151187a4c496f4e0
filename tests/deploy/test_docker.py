"""The Dockerfile and compose file: non-root, health-checked, simulator by default, lint-clean (no engine needed)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ._support import CONFIG, ROOT, load_yaml, require_tool, run, yaml_module

DOCKERFILE = ROOT / "Dockerfile"
DEFAULT_CMD = ["run", "--simulate", "--http", "0.0.0.0:9464"]


def instructions(text: str) -> list[tuple[str, str]]:
    """``[(INSTRUCTION, arguments)]`` with continuation lines joined and comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, arguments = line.partition(" ")
        result.append((keyword.upper(), arguments.strip()))
    return result


@pytest.fixture(scope="module")
def steps() -> list[tuple[str, str]]:
    return instructions(DOCKERFILE.read_text())


def final_stage(steps: list[tuple[str, str]]) -> list[tuple[str, str]]:
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last_from:]


def only(steps: list[tuple[str, str]], keyword: str) -> str:
    (value,) = [arguments for k, arguments in steps if k == keyword]
    return value


def test_the_build_is_multi_stage_and_the_runtime_copies_only_the_built_install(steps: list[tuple[str, str]]) -> None:
    assert len([k for k, _ in steps if k == "FROM"]) >= 2
    runtime = final_stage(steps)
    assert any(k == "COPY" and a.startswith("--from=build") for k, a in runtime)
    assert not any(k == "COPY" and "src" in a.split() for k, a in runtime)


def test_the_runtime_runs_as_a_non_root_user(steps: list[tuple[str, str]]) -> None:
    user = only(final_stage(steps), "USER")
    assert user.split(":")[0] not in {"root", "0", ""}


def test_the_health_check_probes_healthz_with_python(steps: list[tuple[str, str]]) -> None:
    health = only(final_stage(steps), "HEALTHCHECK")
    assert "http://127.0.0.1:9464/healthz" in health
    command = json.loads(health.split("CMD", 1)[1])
    assert command[:2] == ["python", "-c"]
    assert "curl" not in health and "wget" not in health


def test_entrypoint_and_default_command(steps: list[tuple[str, str]]) -> None:
    runtime = final_stage(steps)
    assert json.loads(only(runtime, "ENTRYPOINT")) == ["vastbid"]
    assert json.loads(only(runtime, "CMD")) == DEFAULT_CMD


def test_the_database_is_on_a_volume(steps: list[tuple[str, str]]) -> None:
    runtime = final_stage(steps)
    assert json.loads(only(runtime, "VOLUME")) == ["/var/lib/vastbid"]
    env = " ".join(a for k, a in runtime if k == "ENV")
    assert "VASTBID_DATABASE__URL=sqlite:////var/lib/vastbid/" in env


def test_no_secret_is_baked_into_the_image(steps: list[tuple[str, str]]) -> None:
    settings = " ".join(a for k, a in steps if k in {"ENV", "ARG"})
    assert "KEY" not in settings and "TOKEN" not in settings


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_the_health_check_command_tells_healthy_from_not(
    steps: list[tuple[str, str]], health_server: ThreadingHTTPServer, status: int, healthy: bool
) -> None:
    command = json.loads(only(final_stage(steps), "HEALTHCHECK").split("CMD", 1)[1])
    code = command[2].replace("127.0.0.1:9464", f"127.0.0.1:{health_server.server_address[1]}")
    _Health.status = status
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30, check=False)
    assert (result.returncode == 0) is healthy


def test_hadolint_finds_nothing(tmp_path: Path) -> None:
    hadolint = require_tool("hadolint")
    result = run(hadolint, "--no-color", "--failure-threshold", "style", DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_hadolint_does_flag_a_careless_dockerfile(tmp_path: Path) -> None:
    hadolint = require_tool("hadolint")
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y curl\nCMD vastbid run\n")
    result = run(hadolint, "--no-color", careless)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # the latest tag


def test_the_build_context_keeps_only_what_the_wheel_needs() -> None:
    lines = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    rules = [line for line in lines if line and not line.startswith("#")]
    assert rules[0] == "*"  # everything out (.venv, .git, databases, keys) ...
    assert {"!pyproject.toml", "!README.md", "!src/"} <= set(rules)  # ... but what the wheel is built from


# --- docker-compose.yml ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = load_yaml(CONFIG / "docker-compose.yml")
    return loaded


def test_compose_runs_vastbid_prometheus_and_grafana_against_the_simulator(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"vastbid", "prometheus", "grafana"} <= set(services)
    vastbid = services["vastbid"]
    assert vastbid["command"] == DEFAULT_CMD
    assert (CONFIG / vastbid["build"]["context"] / vastbid["build"]["dockerfile"]).resolve() == DOCKERFILE
    assert any(v.endswith(":/var/lib/vastbid") for v in vastbid["volumes"])
    assert vastbid["environment"]["VAST_API_KEY"] == "${VAST_API_KEY:-}"  # from the host, never in the file
    for name in ("vastbid", "prometheus", "grafana"):
        for port in services[name].get("ports", []):
            assert port.startswith("127.0.0.1:"), (name, port)


def test_compose_mounts_files_that_exist(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (CONFIG / source).exists(), (name, source)


def test_compose_prometheus_scrapes_the_vastbid_service_with_the_shipped_rules(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    promtool = require_tool("promtool")
    config_text = compose["configs"]["prometheus_config"]["content"]
    config = yaml_module().safe_load(config_text)
    assert config["scrape_configs"][0]["static_configs"][0]["targets"] == ["vastbid:9464"]
    shipped = load_yaml(CONFIG / "prometheus" / "prometheus.yml")
    assert config["rule_files"] == shipped["rule_files"]
    assert config["global"] == shipped["global"]
    (tmp_path / "prometheus.yml").write_text(config_text)
    (tmp_path / "alerts.yml").write_text((CONFIG / "prometheus" / "alerts.yml").read_text())
    result = run(promtool, "check", "config", "prometheus.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    mounts = compose["services"]["prometheus"]["volumes"]
    assert "./prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro" in mounts
