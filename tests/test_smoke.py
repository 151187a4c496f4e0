"""The package installs and its command answers."""

from __future__ import annotations

import socket

import pytest
from typer.testing import CliRunner

from vastbid import __version__
from vastbid.cli.main import app


def test_version_prints_the_installed_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"vastbid {__version__}"


def test_the_network_is_out_of_reach() -> None:
    with socket.socket() as sock, pytest.raises(RuntimeError, match="may not reach the network"):
        sock.connect(("192.0.2.1", 80))
