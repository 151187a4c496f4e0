"""No secret in any message: mistyped, misplaced and malformed secrets, through the real `vastbid run` command.

Each case runs `vastbid run --once` (JSON log on stdout) with a settings file and environment carrying a recognisable
secret, against a simulated marketplace on loopback, then greps the command's whole output, its log and every byte
of the database directory for the secret (and for each half of it, so that an escaped newline cannot hide it).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vastbid.cli.main import app
from vastbid.config import load_settings
from vastbid.errors import ConfigError
from vastbid.sim import ManualClock, SimConfig, Simulator

KEY = "a3f9c2e1b4d5f60718293a4b5c6d7e8f9a0b1c2d3e4f5061728394a5b6c7d8e9"
"""Looks like a Vast.ai key (64 hex digits): recognised as a credential even where nothing says it is one."""
PASSPHRASE = "correct-horse-battery-staple"
"""Looks like nothing in particular: recognised only because it is a configured secret."""


@dataclass
class Case:
    name: str
    toml: str = ""
    env: dict[str, str] = field(default_factory=dict)
    secret: str = KEY
    """What ``{s}`` stands for in ``toml`` and ``env``."""
    expect: str = ""

    def needles(self) -> list[str]:
        """Each half of the secret's core: a leak of the secret, escaped or not, contains one of them whole."""
        core = PASSPHRASE if PASSPHRASE in self.secret else KEY
        middle = len(core) // 2
        return [core[:middle], core[middle:]]


CASES = [
    Case("mistyped key in the file", '[market]\napi_kye = "{s}"\n', expect="market.api_kye"),
    Case("mistyped key in the environment", env={"VASTBID_MARKET__API_KYE": "{s}"}, expect="market.api_kye"),
    Case("mistyped token in the environment", env={"VASTBID_HTTP__TOKN": "{s}"}, expect="http.tokn"),
    Case("key as the deployment", 'deployment = "{s}"\n', expect="deployment: must match"),
    Case("key as a timeout", '[market]\ntimeout_seconds = "{s}"\n', expect="market.timeout_seconds: must be"),
    Case("key as the bind address", '[http]\nbind = "{s}"\n', expect="http.bind: must be HOST:PORT"),
    Case("key as the deployment, from the environment", env={"VASTBID_DEPLOYMENT": "{s}"}, expect="deployment"),
    Case("key as a timeout, from the environment", env={"VASTBID_MARKET__TIMEOUT_SECONDS": "{s}"}, expect="timeout"),
    Case("key as the bind address, from the environment", env={"VASTBID_HTTP__BIND": "{s}"}, expect="http.bind"),
    Case(
        "a whole section echoed",
        '[market]\napi_key_source = "x"\napi_key = "{s}"\n',
        expect="api_key_source is set by vastbid itself",
    ),
    Case(
        "configured passphrase as the deployment",
        'deployment = "{s}!"\n',
        env={"VAST_API_KEY": "{s}"},
        secret=PASSPHRASE,
        expect="deployment: must match",
    ),
    Case(
        "configured passphrase as the bind address",
        '[http]\nbind = "{s}"\n',
        env={"VASTBID_HTTP__TOKEN": "{s}"},
        secret=PASSPHRASE,
        expect="http.bind",
    ),
    Case(
        "configured passphrase in a valid deployment",
        'deployment = "{s}"\n',
        env={"VAST_API_KEY": "{s}"},
        secret=PASSPHRASE,
        expect="deployment holds the value of a secret",
    ),
    Case("key with a newline", env={"VAST_API_KEY": KEY[:32] + "\n" + KEY[32:]}, expect="not printable ASCII"),
    Case(
        "key with a newline in the file",
        '[market]\napi_key = "{s}"\n',
        secret=KEY[:32] + "\\n" + KEY[32:],  # a TOML escape: the value holds a newline
        expect="not printable ASCII",
    ),
    Case("key with a non-ASCII letter", env={"VAST_API_KEY": KEY[:32] + "é" + KEY[32:]}, expect="65 characters"),
    Case("token with a newline", env={"VASTBID_HTTP__TOKEN": KEY[:32] + "\r\n" + KEY[32:]}, expect="not printable"),
]


@pytest.fixture(scope="module")
def market() -> Iterator[str]:
    """A quiet simulated marketplace on loopback, its key ``KEY``: a key that passed would reach it and be recorded."""
    sim = Simulator(SimConfig(seed=1, scenario="small", processes=False, api_key=KEY), clock=ManualClock())
    with sim.serve() as url:
        yield url


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in list(os.environ):
        if name.startswith(("VAST", "XDG_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def _run(folder: Path, market: str, toml: str, env: dict[str, str]) -> tuple[int, str]:
    settings = folder / "vastbid.toml"
    settings.write_text(toml, encoding="utf-8")
    settings.chmod(stat.S_IRUSR | stat.S_IWUSR)
    db = folder / "state" / "vastbid.db"
    db.parent.mkdir()
    args = ["run", "--once", "--http", "off", "--log-format", "json", "--config", str(settings)]
    args += ["--db", f"sqlite:///{db}"]
    result = CliRunner().invoke(app, args, env={"VASTBID_MARKET__NATIVE_URL": market, **env})
    return result.exit_code, result.output


def _everything_written(folder: Path, output: str) -> bytes:
    """The command's output and every byte of the database directory (database, WAL, journal)."""
    written = output.encode("utf-8", "backslashreplace")
    for path in sorted((folder / "state").iterdir()):
        written += path.read_bytes()
    return written


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_no_secret_in_any_output_log_or_database(case: Case, market: str, clean_env: Path) -> None:
    env = {name: value.replace("{s}", case.secret) for name, value in case.env.items()}
    code, output = _run(clean_env, market, case.toml.replace("{s}", case.secret), env)

    assert code == 2, output
    assert "error:" in output and case.expect in output, output
    written = _everything_written(clean_env, output)
    for needle in case.needles():
        assert written.count(needle.encode()) == 0, f"{needle!r} leaked:\n{output}"


def test_a_good_key_runs_a_tick_and_is_written_nowhere(market: str, clean_env: Path) -> None:
    """The control: the same greps find nothing when the key is right and the daemon talks to the market."""
    code, output = _run(clean_env, market, "", {"VAST_API_KEY": KEY})

    assert code == 0, output
    assert '"event": "tick_done"' in output, output
    written = _everything_written(clean_env, output)
    assert b"SQLite format 3" in written  # the database was written, and is part of what was searched
    assert all(written.count(needle.encode()) == 0 for needle in Case("good").needles())


def test_a_key_file_with_a_non_ascii_key_is_refused_by_length(clean_env: Path) -> None:
    key_file = clean_env / "key"
    key_file.write_text(KEY[:32] + "\u200b" + KEY[32:] + "\n", encoding="utf-8")  # a zero-width space, pasted
    key_file.chmod(stat.S_IRUSR | stat.S_IWUSR)

    with pytest.raises(ConfigError) as caught:
        load_settings(None, {"HOME": str(clean_env), "VASTBID_MARKET__API_KEY_FILE": str(key_file)})

    message = str(caught.value)
    assert f"the API key from {key_file} is not printable ASCII (65 characters" in message
    assert KEY[:16] not in message and KEY[-16:] not in message


def test_ordinary_values_are_still_shown(clean_env: Path) -> None:
    """Hiding secrets does not hide what an operator needs: a plain wrong value is echoed."""
    env = {"HOME": str(clean_env), "VASTBID_DEPLOYMENT": "Prod!", "VASTBID_HTTP__BIND": "localhost"}

    with pytest.raises(ConfigError) as caught:
        load_settings(None, env)

    message = str(caught.value)
    assert "(got 'Prod!')" in message
    assert "(got 'localhost')" in message
