"""The systemd unit: hardened, notify-driven, and accepted by systemd-analyze verify."""

from __future__ import annotations

from pathlib import Path

import pytest

from ._support import CONFIG, require_tool, run

UNIT = CONFIG / "systemd" / "vastbid.service"
INSTALLED_BINARY = "/usr/local/bin/vastbid"


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """``{section: {key: [values...]}}``; systemd keys may repeat."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"directive outside a section: {line}"
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


@pytest.fixture(scope="module")
def service() -> dict[str, list[str]]:
    return parse_unit(UNIT.read_text())["Service"]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("Type", "notify"),
        ("NotifyAccess", "main"),
        ("StateDirectory", "vastbid"),
        ("DynamicUser", "yes"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("EnvironmentFile", "-/etc/vastbid/vastbid.env"),
        ("Restart", "on-failure"),
        ("ExecStart", f"{INSTALLED_BINARY} run --config /etc/vastbid/vastbid.toml"),
    ],
)
def test_unit_sets(service: dict[str, list[str]], key: str, value: str) -> None:
    assert service[key][-1] == value


def test_watchdog_allows_a_few_tick_intervals(service: dict[str, list[str]]) -> None:
    assert 120 <= int(service["WatchdogSec"][-1]) <= 900


def test_database_lives_in_the_state_directory(service: dict[str, list[str]]) -> None:
    assert "VASTBID_DATABASE__URL=sqlite:////var/lib/vastbid/vastbid.db" in service["Environment"]


def test_no_secret_is_written_in_the_unit(service: dict[str, list[str]]) -> None:
    assert not [e for e in service.get("Environment", []) if "KEY" in e or "TOKEN" in e]


def test_the_network_stays_reachable(service: dict[str, list[str]]) -> None:
    families = service["RestrictAddressFamilies"][-1].split()
    assert {"AF_INET", "AF_INET6", "AF_UNIX"} <= set(families)  # HTTPS to Vast.ai, the notify socket
    assert "PrivateNetwork" not in service


def verify(unit_text: str, directory: Path) -> str:
    systemd_analyze = require_tool("systemd-analyze")
    unit = directory / "vastbid.service"
    unit.write_text(unit_text)
    result = run(systemd_analyze, "verify", unit)
    return f"rc={result.returncode}\n{result.stdout}{result.stderr}"


def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    binary = tmp_path / "vastbid"
    binary.write_text("#!/bin/sh\nexit 0\n")
    binary.chmod(0o755)
    text = UNIT.read_text()
    assert INSTALLED_BINARY in text
    output = verify(text.replace(INSTALLED_BINARY, str(binary)), tmp_path)
    assert output.startswith("rc=0"), output
    assert "vastbid.service" not in output, output  # unknown keys and bad values are only warnings


def test_systemd_analyze_verify_would_report_a_mistake(tmp_path: Path) -> None:
    output = verify(UNIT.read_text().replace("NoNewPrivileges=yes", "NoNewPrivilege=yes"), tmp_path)
    assert "NoNewPrivilege" in output
