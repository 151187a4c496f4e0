"""Instance labels: how we recognise our own rentals, ``vastbid:<deployment>:<job_id>:<attempt>``.

The reconciler matches instances to jobs by label and sweeps orphans carrying our prefix; it never touches an
instance whose label does not parse here.
"""

from __future__ import annotations

import re

from vastbid.errors import InvalidInputError

LABEL_PREFIX = "vastbid"
_DEPLOYMENT = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


def make_label(deployment: str, job_id: int, attempt: int) -> str:
    """The label of the ``attempt``-th instance of job ``job_id`` in ``deployment``."""
    if not _DEPLOYMENT.match(deployment):
        raise InvalidInputError(
            f"deployment name {deployment!r} must be 1-64 letters, digits, '_', '.' or '-' (no ':')",
            field="deployment",
        )
    if job_id < 0 or attempt < 0:
        raise InvalidInputError(f"job id ({job_id}) and attempt ({attempt}) must not be negative", field="label")
    return f"{LABEL_PREFIX}:{deployment}:{job_id}:{attempt}"


def parse_label(label: str | None) -> tuple[str, int, int] | None:
    """``(deployment, job_id, attempt)`` of one of our labels, or ``None`` for anything else."""
    if not label:
        return None
    parts = label.strip().split(":")
    if len(parts) != 4 or parts[0] != LABEL_PREFIX or not _DEPLOYMENT.match(parts[1]):
        return None
    if not (parts[2].isdigit() and parts[3].isdigit()):
        return None
    return parts[1], int(parts[2]), int(parts[3])
