"""Labels: how we recognise our own instances."""

from __future__ import annotations

import pytest

from vastbid.core.labels import make_label, parse_label
from vastbid.errors import InvalidInputError


def test_label_round_trips() -> None:
    label = make_label("prod-eu.1", 42, 3)
    assert label == "vastbid:prod-eu.1:42:3"
    assert parse_label(label) == ("prod-eu.1", 42, 3)


@pytest.mark.parametrize(
    "label",
    [None, "", "my-own-box", "vastbid:prod:42", "vastbid:prod:x:1", "vastbid::1:1", "other:prod:1:1", "vastbid:a:1:-1"],
)
def test_foreign_labels_are_not_ours(label: str | None) -> None:
    assert parse_label(label) is None


def test_a_deployment_name_that_would_break_the_label_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="deployment name 'a:b'"):
        make_label("a:b", 1, 1)
