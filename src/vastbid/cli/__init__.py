"""The ``vastbid`` command."""
