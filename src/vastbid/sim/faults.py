"""Faults and limits, changeable at run time: Vast-like per-route rate limits, the daily search quota, 5xx,
slow answers, malformed bodies, inconsistent instance listings and a market that changes between two pages of a
listing. A rule targets a route (its name, such as ``asks``, or a glob on ``METHOD /path``) and fires on the next
``count`` matches or with a seeded probability; the listing faults can also target one page number (``page``).

Listing faults apply to the native v1 listing (``v1_instances``) and to the LowCodeAPI one (``lc_instances``):
``listing_race`` lets another party destroy (``action="destroy"``: ``instance_id``, or by default the first
instance the page served) or create (``action="create"``, labelled ``label``) an instance of the account right after
a page that has more pages after it was served. ``FaultConfig.offset_paging`` makes the v1 listing page by offset
(the race-prone behaviour a key-paged ``after_token`` avoids) instead of by key.
"""

from __future__ import annotations

import fnmatch
import random
from dataclasses import dataclass, field

FAULT_KINDS = (
    "server_error",  # status (default 500), plain-text body; the request is not executed
    "slow",  # executed, then the answer is late: over a socket by delay_seconds, in-process httpx.ReadTimeout
    "truncated_json",  # executed, 200 with the JSON cut in half
    "html",  # executed, 200 with an HTML page
    "rate_limit",  # 429 plain text (or JSON with Retry-After when json=True); not executed
    "search_quota",  # 429 search_quota_exceeded with X-RateLimit-Reset; not executed
    "truncated_listing",  # v1 instances: a page missing rows, no next_token, total_instances says more
    "next_page_error",  # v1 instances: a request carrying after_token fails with 500
    "listing_race",  # instance listings: after a page with more to come, another party destroys or creates one
    "duplicate_row",  # instance listings: the page serves its first row twice
    "wrong_total",  # instance listings: the page's total (total_instances / total) is one too many
    "no_total",  # instance listings: the page carries no total (nor instances_found)
)
LISTING_FAULTS = ("listing_race", "duplicate_row", "wrong_total", "no_total")
RACE_ACTIONS = ("destroy", "create")

VAST_RATE_LIMITS: dict[str, float] = {
    "asks": 4.5,
    "bid_price": 5.5,
    "destroy": 3.0,
    "show_instance": 2.0,
    "v1_instances": 1.0,
    "minbid": 1.5,
}


@dataclass
class FaultRule:
    """One fault: ``route`` is a route name or a glob on ``"METHOD /path"`` (``*`` for all)."""

    kind: str
    route: str = "*"
    count: int | None = 1
    probability: float | None = None
    status: int = 500
    delay_seconds: float = 0.2
    json: bool = False
    page: int | None = None
    """Listing faults only: fire on this page number (1 = the first page) instead of any page."""
    action: str = "destroy"
    """``listing_race``: ``destroy`` or ``create`` an instance."""
    instance_id: int | None = None
    """``listing_race`` with ``destroy``: the instance to destroy (default: the first one the page served)."""
    label: str = "other-deployment"
    """``listing_race`` with ``create``: the created instance's label."""
    fired: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}: one of {', '.join(FAULT_KINDS)}")
        if self.action not in RACE_ACTIONS:
            raise ValueError(f"unknown listing_race action {self.action!r}: one of {', '.join(RACE_ACTIONS)}")

    def matches(self, route_name: str, method: str, path: str) -> bool:
        if self.route in ("*", route_name):
            return True
        return fnmatch.fnmatch(f"{method} {path}", self.route) or fnmatch.fnmatch(path, self.route)

    def exhausted(self) -> bool:
        return self.count is not None and self.probability is None and self.fired >= self.count


@dataclass
class FaultConfig:
    """Mutable fault settings; tests change them between calls.

    ``rate_limits`` maps route names to minimum intervals in seconds of the simulator's clock (off when empty);
    ``rate_limit_json`` answers 429 as JSON with ``Retry-After`` instead of plain text; ``search_quota`` is the
    number of searches allowed per UTC day (None = unlimited); ``offset_paging`` makes the v1 instance listing
    page by offset (a row destroyed on an earlier page shifts the later pages) instead of by key (the default: the
    token names the last row served, so changes between pages shift nothing).
    """

    rules: list[FaultRule] = field(default_factory=list)
    rate_limits: dict[str, float] = field(default_factory=dict)
    rate_limit_json: bool = False
    search_quota: int | None = None
    offset_paging: bool = False
    seed: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def add(
        self, kind: str, route: str = "*", *, count: int | None = 1, probability: float | None = None, **options: object
    ) -> FaultRule:
        """Append a rule and return it."""
        rule = FaultRule(kind, route, count, probability, **options)  # type: ignore[arg-type]
        self.rules.append(rule)
        return rule

    def use_vast_rate_limits(self) -> None:
        self.rate_limits = dict(VAST_RATE_LIMITS)

    def clear(self) -> None:
        self.rules.clear()
        self.rate_limits = {}
        self.search_quota = None
        self.offset_paging = False

    def pick(
        self,
        route_name: str,
        method: str,
        path: str,
        kinds: tuple[str, ...] | None = None,
        *,
        page: int | None = None,
    ) -> FaultRule | None:
        """The first live rule for this request (consumed when it fires); a rule aimed at a page number matches
        only a listing request for that page (``page``)."""
        for rule in self.rules:
            if kinds is not None and rule.kind not in kinds:
                continue
            if rule.exhausted() or not rule.matches(route_name, method, path):
                continue
            if rule.page is not None and rule.page != page:
                continue
            if rule.probability is not None and self._rng.random() >= rule.probability:
                continue
            rule.fired += 1
            return rule
        return None
