"""Typed results for the market objects that are not core values: user, charge, invoice, SSH key, template,
host machine and (LowCodeAPI) bid.

Pydantic models, frozen, ignoring fields we do not use. ``User`` deliberately has no field for the ``api_key`` that
``users/current`` returns: a secret is never kept. ``parse_model`` turns a validation failure into
``MalformedResponseError`` naming the field.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from vastbid.errors import MalformedResponseError

M = TypeVar("M", bound=BaseModel)


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class User(_Model):
    """The account holder (``users/current``, LowCodeAPI ``/users/me``); ``credit`` is the spendable balance."""

    id: int
    username: str | None = None
    email: str | None = None
    balance: float = 0.0
    credit: float = 0.0
    can_pay: bool | None = None
    has_billing: bool | None = None
    host_agreement_accepted: bool | None = None
    ssh_key: str | None = None


class ChargeItem(_Model):
    """One line of a charge: ``gpu``, ``disk``, ``bwu`` or ``bwd``."""

    type: str | None = None
    description: str | None = None
    amount: float = 0.0


class Charge(_Model):
    """What one instance (``source: instance-<id>``) cost over a period."""

    type: str | None = None
    source: str | None = None
    start: float | None = None
    end: float | None = None
    amount: float = 0.0
    items: list[ChargeItem] = Field(default_factory=list)

    @property
    def instance_id(self) -> int | None:
        """The instance this charge is for, read from ``source``."""
        match = re.fullmatch(r"instance-(\d+)", self.source or "")
        return int(match.group(1)) if match else None


class Invoice(_Model):
    """A money movement on the account: ``credit``, ``transfer``, ``payout``, ``refund``, ``reserved``, charges."""

    id: int | None = None
    type: str | None = Field(default=None, validation_alias=AliasChoices("type", "service"))
    amount: float = 0.0
    when: float | None = Field(default=None, validation_alias=AliasChoices("when", "start", "created_at"))
    description: str | None = None
    source: str | None = None


class SshKey(_Model):
    """An SSH public key on the account (``key`` or ``public_key`` in the wire objects)."""

    id: int
    public_key: str = Field(validation_alias=AliasChoices("public_key", "key", "ssh_key"))
    created_at: float | str | None = None


class Template(_Model):
    """A saved instance configuration; ``hash_id`` changes on every edit."""

    id: int
    hash_id: str | None = None
    name: str | None = None
    image: str | None = None
    tag: str | None = None
    env: str | dict[str, Any] | None = None
    onstart: str | None = None
    runtype: str | None = None
    recommended_disk_space: float | None = None
    private: bool | None = None


class HostMachine(_Model):
    """A machine we host, with its listing (prices per GPU per hour)."""

    id: int
    hostname: str | None = None
    gpu_name: str | None = None
    num_gpus: int = 0
    disk_space: float | None = None
    reliability: float | None = Field(default=None, validation_alias=AliasChoices("reliability2", "reliability"))
    listed: bool | None = None
    listed_gpu_cost: float | None = None
    min_bid_price: float | None = None
    gpu_occupancy: str | None = None
    end_date: float | None = None

    @field_validator("gpu_occupancy", mode="before")
    @classmethod
    def _occupancy_text(cls, value: Any) -> Any:
        return None if value is None else str(value)


class Bid(_Model):
    """A LowCodeAPI bid: an interruptible rental, or a pending limit order for one."""

    id: int
    instance_id: int | None = None
    offer_id: int | None = None
    machine_id: int | None = None
    num_gpus: int | None = None
    price: float
    duration: float | None = None
    status: str
    created_at: float | str | None = None

    @property
    def is_open(self) -> bool:
        """Whether the bid still holds (or waits for) an instance."""
        return self.status in ("pending", "active", "outbid")


def parse_model(model: type[M], data: Any, what: str) -> M:
    """Validate ``data`` as ``model``; a mismatch raises ``MalformedResponseError`` naming the field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        where = ".".join(str(part) for part in errors[0]["loc"]) if errors else "?"
        detail = errors[0]["msg"] if errors else "invalid"
        raise MalformedResponseError(f"{what}: field {where!r}: {detail}") from None


def parse_models(model: type[M], rows: Any, what: str) -> list[M]:
    """Validate a JSON list of ``model`` objects."""
    if not isinstance(rows, list):
        raise MalformedResponseError(f"{what}: expected a list, got {type(rows).__name__}")
    return [parse_model(model, row, what) for row in rows]
