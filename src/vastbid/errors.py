"""The one exception tree of vastbid.

::

    VastbidError
    ├── ConfigError                 bad settings, key file or command-line usage (exit code 2)
    │   └── SecretExposedError      a secret file readable by others
    ├── InvalidInputError           a value refused before anything was sent or written (names the field)
    │   ├── QueryError              a malformed offer query (names the unconsumed text)
    │   ├── JobSpecError            a bad job specification
    │   ├── UnknownObjectError      an id that names nothing (HTTP 404)
    │   └── StateConflictError      a change the object's state forbids, e.g. cancelling a finished job (HTTP 409)
    ├── MarketError                 anything that went wrong talking to Vast.ai (vast/ only raises these)
    │   ├── TransientMarketError    worth retrying later
    │   │   ├── RateLimitedError        HTTP 429 (retry_after in seconds, when known)
    │   │   ├── ServerError             HTTP 5xx
    │   │   ├── NetworkError            timeouts, refused connections, broken transfers
    │   │   ├── MalformedResponseError  a body that is not the JSON we expect
    │   │   └── IncompleteListingError  an instance listing we could not read whole
    │   └── PermanentMarketError    retrying the same call will not help
    │       ├── AuthError               401/403: the key is wrong or lacks the right
    │       ├── SearchQuotaExceededError the daily search quota (reset_at epoch, when known)
    │       ├── OfferGoneError          the offer was taken or unlisted (no_such_ask)
    │       ├── BidTooLowError          a create refused for a low bid; new_contract = the stopped instance left behind
    │       ├── NotFoundError           the object does not exist (any more)
    │       └── RequestRejectedError    any other 4xx or ``success: false`` reply
    ├── StoreError                  the database could not be read or written
    │   ├── StaleTransitionError    a row had already moved on (settled, gone): the transition did not happen
    │   └── DatabaseChangedError    the database is not the one the process opened (file deleted or replaced)
    ├── StrategyError               unknown strategy name or invalid strategy parameters
    ├── DaemonError                 the loop could not start or go on
    ├── SimError                    a bad simulator scenario or setting
    └── BacktestError               a bad backtest input
        └── TraceError              a malformed trace file (names the file and the problem)

Every class says whether it is ``transient``; the tick catches by class and counts the rest as unknown.
Messages never carry secrets: callers pass redacted text only.
"""

from __future__ import annotations


class VastbidError(Exception):
    """Root of every error vastbid raises on purpose."""

    transient: bool = False
    exit_code: int = 1


# --- configuration and input -------------------------------------------------------------------------------


class ConfigError(VastbidError):
    """A setting, key file or command-line argument is wrong; the message says which, what and the fix."""

    exit_code = 2


class SecretExposedError(ConfigError):
    """A file holding a secret is readable by other users."""


class InvalidInputError(VastbidError):
    """A value was refused before any request or write; ``field`` names it."""

    exit_code = 2

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class QueryError(InvalidInputError):
    """An offer query could not be parsed; the message names the unconsumed text."""


class JobSpecError(InvalidInputError):
    """A job specification is invalid; ``field`` names the field."""


# --- the market --------------------------------------------------------------------------------------------


class MarketError(VastbidError):
    """Talking to the marketplace failed. ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, *, status: int | None = None, endpoint: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.endpoint = endpoint


class TransientMarketError(MarketError):
    """A failure that may pass: try again on a later attempt or tick."""

    transient = True


class RateLimitedError(TransientMarketError):
    """HTTP 429. ``retry_after`` is the server's hint in seconds, when it gave one."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | None = 429,
        endpoint: str | None = None,
    ) -> None:
        super().__init__(message, status=status, endpoint=endpoint)
        self.retry_after = retry_after


class ServerError(TransientMarketError):
    """HTTP 5xx from the marketplace."""


class NetworkError(TransientMarketError):
    """A timeout, refused connection or broken transfer."""


class MalformedResponseError(TransientMarketError):
    """A reply whose body is not the JSON the endpoint promises."""


class IncompleteListingError(TransientMarketError):
    """An instance listing could not be read whole: never to be taken as 'no instances'."""


class PermanentMarketError(MarketError):
    """A failure that retrying the same call will not fix."""


class AuthError(PermanentMarketError):
    """The key was refused (401/403)."""


class SearchQuotaExceededError(PermanentMarketError):
    """The daily search quota is spent; ``reset_at`` is the epoch second it resets, when known."""

    def __init__(
        self,
        message: str,
        *,
        reset_at: float | None = None,
        status: int | None = 429,
        endpoint: str | None = None,
    ) -> None:
        super().__init__(message, status=status, endpoint=endpoint)
        self.reset_at = reset_at


class OfferGoneError(PermanentMarketError):
    """The offer no longer exists or was taken (``no_such_ask``)."""


class BidTooLowError(PermanentMarketError):
    """A create was refused because the bid is under the minimum.

    ``new_contract`` is the id of the stopped instance Vast left behind (it bills storage): destroy it.
    """

    def __init__(
        self,
        message: str,
        *,
        new_contract: int | None = None,
        status: int | None = None,
        endpoint: str | None = None,
    ) -> None:
        super().__init__(message, status=status, endpoint=endpoint)
        self.new_contract = new_contract


class NotFoundError(PermanentMarketError):
    """The object asked for does not exist (any more)."""


class RequestRejectedError(PermanentMarketError):
    """Any other refusal: a 4xx, or an HTTP 200 carrying ``success: false``."""


# --- the other layers --------------------------------------------------------------------------------------


class StoreError(VastbidError):
    """The database could not be read or written."""


class StaleTransitionError(StoreError):
    """A state change lost to another writer: the row is no longer in the state the change starts from.

    ``state`` is the row's state now (e.g. ``failed``); ``instance_id`` the Vast instance the caller holds, if
    any. A create whose intent was settled meanwhile must destroy the instance it made.
    """

    def __init__(self, message: str, *, label: str, state: str, instance_id: int | None = None) -> None:
        super().__init__(message)
        self.label = label
        self.state = state
        self.instance_id = instance_id


class DatabaseChangedError(StoreError):
    """The database is not the one the process opened: its file vanished or was replaced, or its identity row
    is gone or different. The daemon stops acting."""


class StrategyError(VastbidError):
    """An unknown strategy name or invalid strategy parameters."""

    exit_code = 2


class DaemonError(VastbidError):
    """The daemon could not start or go on."""


class SimError(VastbidError):
    """A bad simulator scenario or setting."""

    exit_code = 2


class BacktestError(VastbidError):
    """A bad backtest input."""

    exit_code = 2


class TraceError(BacktestError):
    """A malformed trace file; the message names the file and the problem."""


# --- input refused by the object's existence or state (the JSON API maps them to 404 and 409) ---------------


class UnknownObjectError(InvalidInputError):
    """The id names nothing (no such job); ``field`` names the id."""


class StateConflictError(InvalidInputError):
    """The object exists but its state forbids the change (cancelling a job that is already over)."""
