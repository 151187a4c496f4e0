"""The wheel, as the container image builds it: built from the sources alone, installed into a fresh virtual
environment with its dependencies from the package index, then run from there, outside the checkout.

Slow (the dependencies are downloaded unless pip's cache has them), so the environment is built once per session.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from ._support import ROOT

INSTALL_TIMEOUT = 420

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(INSTALL_TIMEOUT + 180),  # the first test also builds and installs
]


@dataclass(frozen=True)
class Installed:
    venv: Path
    wheel: Path

    @property
    def vastbid(self) -> Path:
        return self.venv / "bin" / "vastbid"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"


def _run(args: list[str | Path], *, cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VASTBID_", "VAST_", "PYTHON", "VIRTUAL_ENV"))}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _check(result: subprocess.CompletedProcess[str], what: str) -> None:
    assert result.returncode == 0, (
        f"{what} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    )


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel built from a copy of the sources (as the Dockerfile does) and installed into a fresh venv."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    dist = base / "dist"
    _check(
        _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, source], cwd=base, timeout=300),
        "pip wheel",
    )
    (wheel,) = dist.glob("vastbid-*.whl")
    venv = base / "venv"
    _check(_run(["python3", "-m", "venv", venv], cwd=base, timeout=120), "python3 -m venv")
    _check(_run([venv / "bin" / "pip", "install", "-q", wheel], cwd=base, timeout=INSTALL_TIMEOUT), "pip install")
    return Installed(venv=venv, wheel=wheel)


def test_installed_wheel_reports_the_project_version(installed: Installed, tmp_path: Path) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert installed.wheel.name.startswith(f"vastbid-{version}-")
    result = _run([installed.vastbid, "--version"], cwd=tmp_path, timeout=60)
    _check(result, "vastbid --version")
    assert result.stdout.strip() == f"vastbid {version}"
    # The code that ran is the installed copy, not the checkout's sources.
    where = _run([installed.python, "-c", "import vastbid; print(vastbid.__file__)"], cwd=tmp_path, timeout=60)
    _check(where, "import vastbid")
    assert Path(where.stdout.strip()).is_relative_to(installed.venv), where.stdout


def test_installed_wheel_runs_one_simulated_tick_on_a_fresh_database(installed: Installed, tmp_path: Path) -> None:
    """Migrations, strategies (entry points) and the simulator all ship in the wheel: a first tick succeeds."""
    db = tmp_path / "vastbid.db"
    result = _run(
        [installed.vastbid, "run", "--simulate", "--once", "--db", f"sqlite:///{db}", "--log-format", "json"],
        cwd=tmp_path,
        timeout=180,
    )
    _check(result, "vastbid run --simulate --once")
    with sqlite3.connect(db) as conn:
        ticks = conn.execute("SELECT count(*) FROM ticks").fetchone()[0]
        decisions = conn.execute("SELECT count(*) FROM decisions").fetchone()[0]
    assert ticks == 1
    assert decisions > 0  # the demo jobs were considered and acted on
