"""The settings models: one frozen pydantic model per section of ``vastbid.toml``.

Loading (file, environment, key files) lives in ``vastbid.config.loading``; these models only say what is
allowed. Secrets (the Vast.ai API key, the HTTP token) are ``SecretStr``: never printed, never in a repr.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

DEPLOYMENT_PATTERN = r"^[a-z0-9-]{1,32}$"
MIN_TOKEN_LENGTH = 16
"""The shortest HTTP bearer token accepted."""
_BIND = re.compile(r"^(?P<host>\[[0-9a-fA-F:]+\]|[A-Za-z0-9.\-]+):(?P<port>\d{1,5})$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _no_loader_fields(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, field in cls.model_fields.items():
                if field.exclude and name in data:
                    raise ValueError(f"{name} is set by vastbid itself; remove it")
        return data


class Surface(StrEnum):
    """Which Vast.ai API the adapters speak."""

    NATIVE = "native"
    LOWCODE = "lowcode"


class UrlStyle(StrEnum):
    """How LowCodeAPI path parameters are sent."""

    PATH = "path"
    QUERY = "query"
    PATH_THEN_QUERY = "path_then_query"


class OrphanPolicy(StrEnum):
    """What to do with instances carrying our label prefix that no job claims."""

    ADOPT_OR_DESTROY = "adopt_or_destroy"
    """Adopt it into its job when that job is known and can take it, else destroy it after a grace period."""
    DESTROY = "destroy"
    ADOPT = "adopt"
    """Adopt it when its job can take it, else leave it running (and count it against every budget)."""
    REPORT = "report"
    """Leave it running, log it every tick, and count it against every budget."""


class MarketSettings(_Section):
    """Where and how to reach the marketplace."""

    surface: Surface = Surface.NATIVE
    native_url: str = Field(default="https://console.vast.ai", pattern=r"^https?://\S+$")
    lowcode_url: str = Field(default="https://api.lowcodeapi.com/vastai", pattern=r"^https?://\S+$")
    lowcode_url_style: UrlStyle = UrlStyle.PATH_THEN_QUERY
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    api_key_file: Path | None = None
    """A file holding only the key; must not be readable by group or others."""
    api_key: SecretStr | None = None
    """Resolved at load: ``VAST_API_KEY``, else this setting, else ``api_key_file``, else the CLI's key file."""
    api_key_source: str | None = Field(default=None, exclude=True)
    """Set by the loader, not by users: where the key came from (a variable name or a file path), never the key."""
    simulate: bool = False
    """Use the embedded simulator instead of Vast.ai."""

    @property
    def base_url(self) -> str:
        """The base URL of the chosen surface."""
        return self.native_url if self.surface is Surface.NATIVE else self.lowcode_url


class DatabaseSettings(_Section):
    """Where the decision log, jobs and spend are kept."""

    url: str = Field(default="", description="SQLAlchemy URL; empty = SQLite in the state directory")
    decision_retention_days: int = Field(default=90, ge=1, le=36_500)
    sample_retention_days: int = Field(default=30, ge=1, le=36_500)
    job_retention_days: int = Field(default=30, ge=1, le=36_500)
    """Finished jobs (and their instance records, ledger rows and decisions) are kept this long after they end; the
    daily spend totals the budgets read are kept whatever this says."""
    record_market_samples: bool = False


class DaemonSettings(_Section):
    """The scheduler loop."""

    tick_seconds: float = Field(default=60.0, ge=5, le=86_400)
    jitter_seconds: float = Field(default=5.0, ge=0, le=3_600)
    dry_run: bool = False
    orphan_policy: OrphanPolicy = OrphanPolicy.ADOPT_OR_DESTROY
    orphan_grace_seconds: float = Field(default=600.0, ge=0, le=86_400)
    """``adopt_or_destroy``: how long an orphan no job can take is left before it is destroyed (a create of another
    process of this deployment may be settling it)."""
    min_migration_gain: float = Field(default=0.2, ge=0, le=10)
    """Never migrate a running job for less than this fraction of its $/h."""

    @model_validator(mode="after")
    def _jitter_under_tick(self) -> DaemonSettings:
        if self.jitter_seconds >= self.tick_seconds:
            raise ValueError(
                f"jitter_seconds ({self.jitter_seconds:g}) must be less than tick_seconds ({self.tick_seconds:g})"
            )
        return self


class BudgetSettings(_Section):
    """Caps on spending, all in $ (or $/h); unset means no cap of that kind."""

    max_burn_per_hour: float | None = Field(default=None, ge=0)
    daily_cap: float | None = Field(default=None, ge=0)
    monthly_cap: float | None = Field(default=None, ge=0)
    min_balance: float | None = Field(default=None, ge=0)
    per_job_max_cost: float | None = Field(default=None, ge=0)


class StrategySettings(_Section):
    """The default strategy and its parameters (validated by the strategy registry)."""

    default: str = Field(default="cheapest_per_gpu", pattern=r"^[a-z][a-z0-9_]{0,63}$")
    params: dict[str, Any] = Field(default_factory=dict)


class HttpSettings(_Section):
    """The HTTP surface: metrics, health and the JSON API."""

    bind: str = "127.0.0.1:9464"
    token: SecretStr | None = None
    """Bearer token for writes; same file-permission rule as the API key."""
    token_file: Path | None = None
    token_source: str | None = Field(default=None, exclude=True)
    """Set by the loader, not by users: where the token came from."""
    open_reads: bool = False
    """Whether reads (GET) are allowed without the token."""

    @field_validator("token")
    @classmethod
    def _token_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_TOKEN_LENGTH:
            raise ValueError(
                f"must be at least {MIN_TOKEN_LENGTH} characters (a short token is guessable, and masking it "
                "in logs would garble them); make one with: openssl rand -hex 16"
            )
        return value

    @field_validator("bind")
    @classmethod
    def _host_port(cls, value: str) -> str:
        match = _BIND.match(value)
        if match is None or not 0 < int(match.group("port")) < 65_536:
            raise ValueError("must be HOST:PORT with a port in 1-65535, e.g. 127.0.0.1:9464")
        return value

    @property
    def host(self) -> str:
        """The host part of ``bind`` (IPv6 brackets removed)."""
        return self.bind.rsplit(":", 1)[0].strip("[]")

    @property
    def port(self) -> int:
        """The port part of ``bind``."""
        return int(self.bind.rsplit(":", 1)[1])


class Settings(BaseSettings):
    """All settings. Build with ``vastbid.config.load_settings``, which also resolves secrets and defaults."""

    model_config = SettingsConfigDict(
        env_prefix="VASTBID_", env_nested_delimiter="__", extra="forbid", frozen=True, case_sensitive=False
    )

    deployment: str = Field(default="default", pattern=DEPLOYMENT_PATTERN)
    """Names this installation in instance labels ``vastbid:<deployment>:<job_id>:<attempt>``."""
    market: MarketSettings = Field(default_factory=MarketSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    daemon: DaemonSettings = Field(default_factory=DaemonSettings)
    budget: BudgetSettings = Field(default_factory=BudgetSettings)
    strategy: StrategySettings = Field(default_factory=StrategySettings)
    http: HttpSettings = Field(default_factory=HttpSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only explicit values: ``load_settings`` reads the file and the (injected) environment itself."""
        return (init_settings,)

    @property
    def label_prefix(self) -> str:
        """The prefix of every instance label this deployment owns: ``vastbid:<deployment>:``."""
        return f"vastbid:{self.deployment}:"

    def instance_label(self, job_id: int, attempt: int) -> str:
        """The label of a job's ``attempt``-th instance."""
        return f"{self.label_prefix}{job_id}:{attempt}"


SECRET_PATHS = frozenset({"market.api_key", "http.token"})
"""Dotted paths of the secret settings (masked everywhere, excluded from the config hash)."""
SECRET_SOURCE_PATHS = frozenset({"market.api_key_source", "http.token_source"})
