"""The simulated Vast.ai marketplace: model, processes, faults, and its two HTTP surfaces."""
