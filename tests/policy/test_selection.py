from __future__ import annotations

from collections import Counter

import pytest

from gemgate.policy._selection import Rotation, Strategy, order

ABC = ["a", "b", "c"]


def test_round_robin_rotates_per_turn() -> None:
    assert [order(ABC, Strategy.ROUND_ROBIN, turn) for turn in range(4)] == [
        ["a", "b", "c"],
        ["b", "c", "a"],
        ["c", "a", "b"],
        ["a", "b", "c"],
    ]


def test_round_robin_spreads_leads_evenly() -> None:
    leads = Counter(order(ABC, Strategy.ROUND_ROBIN, turn)[0] for turn in range(300))
    assert leads == {"a": 100, "b": 100, "c": 100}


def test_least_loaded_sorts_by_load() -> None:
    load = {"a": 2, "b": 0, "c": 1}.__getitem__
    for turn in range(3):
        assert order(ABC, Strategy.LEAST_LOADED, turn, load=load) == ["b", "c", "a"]


def test_least_loaded_breaks_ties_by_rotation() -> None:
    load = {"a": 1, "b": 0, "c": 0}.__getitem__
    assert order(ABC, Strategy.LEAST_LOADED, 0, load=load) == ["b", "c", "a"]
    assert order(ABC, Strategy.LEAST_LOADED, 2, load=load) == ["c", "b", "a"]
    assert order(ABC, Strategy.LEAST_LOADED, 1) == ["b", "c", "a"]  # all equal: pure rotation


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ({"a": 3.0, "b": 1.0}, {"a": 0.75, "b": 0.25}),
        ({"a": 1.0, "b": 1.0, "c": 2.0}, {"a": 0.25, "b": 0.25, "c": 0.5}),
        ({"a": 1.0, "b": 0.0, "c": 4.0}, {"a": 0.2, "b": 0.0, "c": 0.8}),
    ],
)
def test_weighted_leads_in_proportion_to_weights(
    weights: dict[str, float], expected: dict[str, float]
) -> None:
    items = list(weights)
    leads = Counter(
        order(items, Strategy.WEIGHTED, turn, weight=weights.__getitem__)[0] for turn in range(1000)
    )
    for item, share in expected.items():
        assert leads[item] / 1000 == pytest.approx(share, rel=0.10, abs=1e-9)


def test_weighted_returns_every_item_with_the_rest_by_weight() -> None:
    weights = {"a": 1.0, "b": 5.0, "c": 3.0}
    for turn in range(50):
        got = order(list(weights), Strategy.WEIGHTED, turn, weight=weights.__getitem__)
        assert sorted(got) == ["a", "b", "c"]
        rest = got[1:]
        assert [weights[x] for x in rest] == sorted((weights[x] for x in rest), reverse=True)


@pytest.mark.parametrize("strategy", list(Strategy))
def test_empty_list(strategy: Strategy) -> None:
    assert order([], strategy, 7) == []


@pytest.mark.parametrize("strategy", list(Strategy))
def test_single_item(strategy: Strategy) -> None:
    assert order(["only"], strategy, 5) == ["only"]


def test_rotation_counts_per_name() -> None:
    rotation = Rotation()
    assert [rotation.next("flash") for _ in range(3)] == [0, 1, 2]
    assert rotation.next("pro") == 0
    assert rotation.next("flash") == 3
