"""The daemon shell: one tick, the executor, the reconciler, the scheduler wiring, signals."""
