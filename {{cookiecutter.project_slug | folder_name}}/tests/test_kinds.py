"""The registry of spec kinds (mlops.kinds): every kind has all it needs, in one entry."""

from __future__ import annotations

from collections import Counter

import pytest
from azure.ai.ml import MLClient

from mlops import payloads, specs
from mlops.cli import main
from mlops.kinds import APPLIED, BY_NAME, KINDS, Kind
from mlops.limits import LIMITS, Limit
from mlops.naming import NAME_RULES

LEARN = "https://learn.microsoft.com/azure/machine-learning/"


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
    for link in kind.links.values():
        assert link.kinds and set(link.kinds) <= set(BY_NAME), link
    for pattern in (*kind.links, *kind.scopes, *kind.commands):
        assert all(part for part in pattern.split(".")) or pattern == "", pattern


@pytest.mark.parametrize("limit", LIMITS, ids=lambda limit: f"{limit.kind}:{limit.field}")
def test_every_limit_has_its_bound_and_its_source(limit: Limit):
    kind = BY_NAME[limit.kind]
    assert set(limit.schemas) <= set(kind.schemas)
    assert limit.source.startswith(LEARN) and limit.says
    bounds = [
        limit.minimum is not None or limit.maximum is not None,
        bool(limit.allowed),
        limit.at_most is not None,
        limit.at_most_linked is not None,
    ]
    assert bounds.count(True) == 1, limit
    if limit.at_most_linked:
        assert limit.at_most_linked[0] in kind.links


def test_each_schema_names_one_kind():
    counts = Counter(schema for kind in KINDS for schema in kind.schemas)

    assert [schema for schema, count in counts.items() if count > 1] == []


def test_apply_creates_what_others_refer_to_first():
    order = [kind.name for kind in APPLIED]

    assert order.index("compute") < order.index("online_endpoint")
    assert order.index("environment") < order.index("schedule")
    assert order.index("data") < order.index("schedule")
    assert order.index("batch_endpoint") < order.index("schedule")
