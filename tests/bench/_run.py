"""Running a benchmark script as a user would, and reading the one JSON document it prints."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parents[2] / "bench"


def run_script(script: str, *args: str, timeout: float = 120) -> dict[str, Any]:
    """``python bench/SCRIPT ARGS``; fails the test with its stderr unless it exits 0."""
    done = subprocess.run(
        [sys.executable, str(BENCH / script), *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, done.stderr
    figures: dict[str, Any] = json.loads(done.stdout)
    return figures
