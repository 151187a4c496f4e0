"""The strategy registry: every strategy declared in the ``vastbid.strategies`` entry-point group, by name.

Built-ins are declared in vastbid's own pyproject.toml the same way a third-party package declares its own::

    [project.entry-points."vastbid.strategies"]
    my_strategy = "my_package.module:MyStrategy"

A strategy class has a ``Params`` model (a frozen ``StrategyParams``) and is built as ``Cls(params)``. The group is
read on every call (no cache), so a package installed or put on ``sys.path`` later is seen.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any, cast

from pydantic import ValidationError

from vastbid.core.choice import Strategy, StrategyParams
from vastbid.errors import StrategyError

GROUP = "vastbid.strategies"


def _entry_points() -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for ep in sorted(entry_points(group=GROUP), key=lambda e: (e.name, e.value)):
        found.setdefault(ep.name, ep)
    return found


def _package(ep: EntryPoint) -> str:
    dist = ep.dist
    if dist is None:
        return f"the package providing {ep.value!r}"
    return f"package {dist.name} {dist.version}"


def available() -> list[str]:
    """The names of every registered strategy, sorted."""
    return sorted(_entry_points())


def strategy_class(name: str) -> type[Any]:
    """The class registered as ``name``; ``StrategyError`` if unknown or if it cannot be loaded."""
    points = _entry_points()
    ep = points.get(name)
    if ep is None:
        known = ", ".join(sorted(points)) or "none"
        raise StrategyError(f"unknown strategy {name!r}; valid names: {known}")
    try:
        cls = ep.load()
    except Exception as exc:
        raise StrategyError(
            f"strategy {name!r} ({ep.value}) from {_package(ep)} failed to load: {type(exc).__name__}: {exc}"
        ) from exc
    params_model = getattr(cls, "Params", None)
    if not (
        isinstance(cls, type)
        and isinstance(params_model, type)
        and issubclass(params_model, StrategyParams)
        and callable(getattr(cls, "choose", None))
    ):
        raise StrategyError(
            f"strategy {name!r} ({ep.value}) from {_package(ep)} is not a strategy class "
            "(it needs a Params model derived from StrategyParams and a choose(ctx) method)"
        )
    return cls


def _describe_error(name: str, error: Mapping[str, Any]) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()))
    if not where:
        return str(error.get("msg", "invalid parameters")).removeprefix("Value error, ")
    if error.get("type") == "missing":
        return f"parameter {where!r} is required"
    if error.get("type") == "extra_forbidden":
        return f"parameter {where!r} is not a parameter of {name!r}"
    return f"parameter {where!r} = {error.get('input')!r} is not allowed: {error.get('msg')}"


def validate_params(name: str, params: Mapping[str, Any] | None = None) -> StrategyParams:
    """``params`` validated into the frozen ``Params`` of strategy ``name``; errors name each parameter."""
    cls = strategy_class(name)
    model = cast(type[StrategyParams], cls.Params)
    try:
        return model.model_validate(dict(params or {}))
    except ValidationError as exc:
        problems = "; ".join(_describe_error(name, err) for err in exc.errors())
        fields = ", ".join(sorted(model.model_fields)) or "none"
        raise StrategyError(
            f"invalid parameters for strategy {name!r}: {problems} (its parameters: {fields})"
        ) from None


def build_strategy(name: str, params: Mapping[str, Any] | None = None) -> Strategy:
    """The strategy registered as ``name``, built with validated ``params``."""
    validated = validate_params(name, params)
    cls = strategy_class(name)
    try:
        strategy = cls(validated)
    except Exception as exc:
        raise StrategyError(f"strategy {name!r} could not be built: {type(exc).__name__}: {exc}") from exc
    return cast(Strategy, strategy)
