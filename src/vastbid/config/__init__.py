"""Settings: models, loading (TOML file + environment + key files) and validation."""
