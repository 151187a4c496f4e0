"""Reading an instance listing until its pages agree: one retry rule for both adapters.

``read_consistently`` calls ``read_once`` (one pass over the pages: the instances, or what made the pages
inconsistent) up to ``attempts`` times, from the first page each time, and raises ``IncompleteListingError`` when no
pass was consistent: a listing is never returned partial.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from vastbid.core.instances import Instance
from vastbid.errors import IncompleteListingError

log = logging.getLogger(__name__)


def read_consistently(read_once: Callable[[], list[Instance] | str], attempts: int) -> list[Instance]:
    """The first consistent pass of ``read_once``; ``IncompleteListingError`` after ``attempts`` inconsistent ones."""
    problem = ""
    for attempt in range(1, attempts + 1):
        outcome = read_once()
        if isinstance(outcome, list):
            return outcome
        problem = outcome
        log.warning("vast_listing_inconsistent endpoint=list_instances attempt=%d problem=%s", attempt, problem)
    raise IncompleteListingError(
        f"instance listing inconsistent {attempts} times in a row; last: {problem}", endpoint="list_instances"
    )
