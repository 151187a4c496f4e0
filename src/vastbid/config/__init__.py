"""Settings: models, loading (TOML file + environment + key files) and validation.

``load_settings(path, env)`` is the one way in; ``config_hash`` fingerprints the result for the decision log.
"""

from vastbid.config.loading import config_hash, default_database_url, effective_rows, load_settings
from vastbid.config.settings import (
    BudgetSettings,
    DaemonSettings,
    DatabaseSettings,
    HttpSettings,
    MarketSettings,
    OrphanPolicy,
    Settings,
    StrategySettings,
    Surface,
    UrlStyle,
)

__all__ = [
    "BudgetSettings",
    "DaemonSettings",
    "DatabaseSettings",
    "HttpSettings",
    "MarketSettings",
    "OrphanPolicy",
    "Settings",
    "StrategySettings",
    "Surface",
    "UrlStyle",
    "config_hash",
    "default_database_url",
    "effective_rows",
    "load_settings",
]
