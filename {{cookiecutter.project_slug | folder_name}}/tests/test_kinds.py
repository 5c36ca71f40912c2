"""The registry of spec kinds (mlops.kinds): every kind has all it needs, in one entry."""

from __future__ import annotations

from collections import Counter

import pytest
from azure.ai.ml import MLClient

from mlops import payloads, specs
from mlops.cli import main
from mlops.kinds import APPLIED, KINDS, Kind
from mlops.naming import NAME_RULES


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.name)
def test_every_kind_has_what_it_needs(kind: Kind):
    assert kind.title and kind.schemas
    for loader in kind.schemas.values():
        assert callable(specs.loader(loader)), loader
    assert set(kind.named_fields.values()) <= set(NAME_RULES)
    if kind.operations:
        assert isinstance(getattr(MLClient, kind.operations), property), kind.operations
    if kind.request_builder:
        assert callable(getattr(payloads, kind.request_builder)), kind.request_builder
    if kind.applied:
        assert kind.operations and kind.request_builder
    elif kind.command:
        assert kind.command in main.commands and kind.request_builder
    else:
        assert kind.hint


def test_each_schema_names_one_kind():
    counts = Counter(schema for kind in KINDS for schema in kind.schemas)

    assert [schema for schema, count in counts.items() if count > 1] == []


def test_apply_creates_what_others_refer_to_first():
    order = [kind.name for kind in APPLIED]

    assert order.index("compute") < order.index("online_endpoint")
    assert order.index("environment") < order.index("schedule")
    assert order.index("data") < order.index("schedule")
    assert order.index("batch_endpoint") < order.index("schedule")
