"""`vastbid sim serve` starts a server, prints where it is and the generated key once."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from vastbid.cli.main import app


def test_sim_serve_prints_the_url_and_a_generated_key() -> None:
    result = CliRunner().invoke(
        app, ["sim", "serve", "--port", "0", "--scenario", "small", "--rate-limits", "--duration", "0.1"]
    )
    assert result.exit_code == 0, result.output
    assert re.search(r"on http://127\.0\.0\.1:\d+", result.output)
    keys = re.findall(r"API key \(shown once\): (\S+)", result.output)
    assert len(keys) == 1 and result.output.count(keys[0]) == 1
    assert "VAST_URL=" in result.output


def test_sim_serve_refuses_an_unknown_scenario() -> None:
    result = CliRunner().invoke(app, ["sim", "serve", "--scenario", "huge", "--duration", "0"])
    assert result.exit_code != 0
