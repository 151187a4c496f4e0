"""Observability: structlog setup, Prometheus metrics and the HTTP surface."""
