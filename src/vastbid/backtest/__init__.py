"""Backtests: trace and scenario replay, the offline oracle, reports."""
