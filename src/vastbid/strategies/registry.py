"""The strategy registry: the ``Registry`` of strategies by name, built once from the ``vastbid.strategies``
entry-point group (or from a plain mapping, in tests) and passed to whoever builds strategies.

Built-ins are declared in vastbid's own pyproject.toml the same way a third-party package declares its own::

    [project.entry-points."vastbid.strategies"]
    my_strategy = "my_package.module:MyStrategy"

A strategy class is a frozen keyword-only dataclass whose fields are its parameters (see
``vastbid.strategies.base``). ``Registry.build(name, params)`` validates ``params`` into it once, through
``pydantic.TypeAdapter``: unknown keys, wrong types and broken constraints are refused with an error naming each
parameter. The entry points are read when the registry is made, and each class is imported the first time it is
asked for, so one broken package fails only its own strategies.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any, cast

from pydantic import TypeAdapter, ValidationError

from vastbid.core.choice import Strategy
from vastbid.errors import StrategyError

GROUP = "vastbid.strategies"


def _package(ep: EntryPoint) -> str:
    dist = ep.dist
    if dist is None:
        return f"the package providing {ep.value!r}"
    return f"package {dist.name} {dist.version}"


def _describe_error(name: str, error: Mapping[str, Any]) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()))
    if not where:
        return str(error.get("msg", "invalid parameters")).removeprefix("Value error, ")
    if error.get("type") == "missing":
        return f"parameter {where!r} is required"
    return f"parameter {where!r} = {error.get('input')!r} is not allowed: {error.get('msg')}"


class Registry:
    """Strategy classes by name; builds strategies from validated parameters."""

    def __init__(self, strategies: Mapping[str, type[Any] | EntryPoint]) -> None:
        """``strategies``: name to class (tests) or to the entry point that loads it (``from_entry_points``)."""
        self._sources: dict[str, type[Any] | EntryPoint] = dict(strategies)
        self._classes: dict[str, type[Any]] = {}
        self._adapters: dict[str, TypeAdapter[Any]] = {}

    @classmethod
    def from_entry_points(cls, group: str = GROUP) -> Registry:
        """Every strategy declared in the entry-point ``group``, read now (the first declaration of a name wins)."""
        found: dict[str, type[Any] | EntryPoint] = {}
        for ep in sorted(entry_points(group=group), key=lambda e: (e.name, e.value)):
            found.setdefault(ep.name, ep)
        return cls(found)

    def names(self) -> list[str]:
        """The names of every registered strategy, sorted."""
        return sorted(self._sources)

    def __contains__(self, name: object) -> bool:
        return name in self._sources

    def __repr__(self) -> str:
        return f"Registry({', '.join(self.names())})"

    def strategy_class(self, name: str) -> type[Any]:
        """The class registered as ``name``; ``StrategyError`` if unknown, if it fails to load or is no strategy."""
        if name in self._classes:
            return self._classes[name]
        source = self._sources.get(name)
        if source is None:
            known = ", ".join(self.names()) or "none"
            raise StrategyError(f"unknown strategy {name!r}; valid names: {known}")
        loaded: object = source
        where = f"({source!r})"
        if isinstance(source, EntryPoint):
            where = f"({source.value}) from {_package(source)}"
            try:
                loaded = source.load()
            except Exception as exc:
                raise StrategyError(f"strategy {name!r} {where} failed to load: {type(exc).__name__}: {exc}") from exc
        if not (
            isinstance(loaded, type)
            and dataclasses.is_dataclass(loaded)
            and isinstance(getattr(loaded, "name", None), str)
            and callable(getattr(loaded, "choose", None))
        ):
            raise StrategyError(
                f"strategy {name!r} {where} is not a strategy class (it needs to be a dataclass whose fields are "
                "its parameters, with a name and a choose(ctx) method)"
            )
        self._classes[name] = loaded
        return loaded

    def parameters(self, name: str) -> list[str]:
        """The parameter names of strategy ``name``, in their declared order."""
        return [f.name for f in dataclasses.fields(self.strategy_class(name)) if f.init]

    def build(self, name: str, params: Mapping[str, Any] | None = None) -> Strategy:
        """Strategy ``name`` with ``params`` (defaults for the rest) validated once; ``StrategyError`` naming every
        bad parameter and listing the strategy's parameters, or the valid names when ``name`` is unknown."""
        cls = self.strategy_class(name)
        given = dict(params or {})
        known = self.parameters(name)
        problems = [f"parameter {key!r} is not a parameter of {name!r}" for key in given if key not in known]
        strategy: object = None
        try:
            strategy = self._adapter(name, cls).validate_python({k: v for k, v in given.items() if k in known})
        except ValidationError as exc:
            problems += [_describe_error(name, err) for err in exc.errors()]
        except Exception as exc:
            raise StrategyError(f"strategy {name!r} could not be built: {type(exc).__name__}: {exc}") from exc
        if problems:
            raise StrategyError(
                f"invalid parameters for strategy {name!r}: {'; '.join(problems)} "
                f"(its parameters: {', '.join(sorted(known)) or 'none'})"
            )
        return cast(Strategy, strategy)

    def validate(self, name: str, params: Mapping[str, Any] | None = None) -> None:
        """Check that ``build(name, params)`` would succeed; ``StrategyError`` as ``build`` raises it otherwise."""
        self.build(name, params)

    def _adapter(self, name: str, cls: type[Any]) -> TypeAdapter[Any]:
        """The validator of a strategy class, made once (making one costs milliseconds)."""
        if name not in self._adapters:
            self._adapters[name] = TypeAdapter(cls)
        return self._adapters[name]


def strategy_params(strategy: Strategy) -> dict[str, Any]:
    """A built strategy's parameters (its dataclass fields) as JSON values, for a decision log or a report."""
    dumped = TypeAdapter(type(strategy)).dump_python(strategy, mode="json")
    return dict(dumped) if isinstance(dumped, Mapping) else {}


@cache
def default_registry() -> Registry:
    """The registry of the installed entry points, read on first use and kept."""
    return Registry.from_entry_points()
