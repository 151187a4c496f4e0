"""Deployment-file test support: where the repository's files are, and the external tools that check them.

The tools (promtool, systemd-analyze, hadolint) are installed by ``.ci/install-tools``. A test needing one
skips when it is missing, except in CI (``CI`` set) where a missing tool is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from vastbid.obs.metrics import Metrics, metric_names

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config"


def find_tool(name: str) -> str | None:
    """The tool's path: the project venv's bin first (hadolint lives there), then $PATH."""
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return shutil.which(name, path=search)


def require_tool(name: str) -> str:
    """The tool's path; skip the test when it is missing, fail instead in CI."""
    path = find_tool(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed: CI must run .ci/install-tools first")
        pytest.skip(f"{name} is not installed (run .ci/install-tools)")
    return path


def load_yaml(path: Path) -> Any:
    """A YAML file's content (PyYAML under the same skip-unless-CI rule as the tools)."""
    return yaml_module().safe_load(path.read_text())


def run(*args: str | Path, cwd: Path | None = None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a tool, capturing its output as text; never raises on a non-zero exit."""
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def yaml_module() -> Any:
    """PyYAML, under the same skip-unless-CI rule as the tools."""
    try:
        import yaml
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("PyYAML is not installed: CI must run .ci/install-tools first")
        pytest.skip("PyYAML is not installed (run .ci/install-tools)")
    return yaml


HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def exported_names() -> dict[str, str]:
    return metric_names(Metrics(CollectorRegistry()).registry)


def referenced_metrics(expr: str) -> set[str]:
    """The vastbid series an expression reads, histogram samples folded to their family."""
    names = exported_names()
    found = set()
    for token in re.findall(r"\bvastbid_[a-z0-9_]+", expr):
        family = token
        for suffix in HISTOGRAM_SUFFIXES:
            stem = token.removesuffix(suffix)
            if token.endswith(suffix) and names.get(stem) == "histogram":
                family = stem
        found.add(family)
    return found
