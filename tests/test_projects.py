from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from gemgate.projects import Limits, ProjectConfig, fingerprint

KEY = "FAKEkeyD-not-a-real-key-0123456789abcd"


def test_fingerprint_is_stable_and_short() -> None:
    # pinned: fingerprints are stored (disabled keys in Redis) and appear in logs
    assert fingerprint("AIza-example") == "key:ac7804c9"
    assert fingerprint(KEY) == fingerprint(KEY)
    assert re.fullmatch(r"key:[0-9a-f]{8}", fingerprint(KEY))


def test_fingerprint_differs_per_key_and_hides_it() -> None:
    assert fingerprint(KEY) != fingerprint(KEY + "x")
    assert KEY not in fingerprint(KEY)
    assert KEY[:8] not in fingerprint(KEY)
    assert KEY[-8:] not in fingerprint(KEY)


def project(**limits: Limits) -> ProjectConfig:
    return ProjectConfig(name="p", keys=[KEY], limits=limits)


def test_limits_for_the_model() -> None:
    config = project(**{"gemini-2.5-flash": Limits(rpm=10), "*": Limits(rpm=1)})
    assert config.limits_for("gemini-2.5-flash") == Limits(rpm=10)
    assert config.limits_for("models/gemini-2.5-flash") == Limits(rpm=10)


def test_limits_for_falls_back_to_star() -> None:
    config = project(**{"gemini-2.5-flash": Limits(rpm=10), "*": Limits(tpm=5)})
    assert config.limits_for("gemini-2.5-pro") == Limits(tpm=5)
    assert config.limits_for("models/gemini-2.5-pro") == Limits(tpm=5)


def test_limits_for_an_unlisted_model_without_star_is_none() -> None:
    assert project(**{"gemini-2.5-flash": Limits(rpm=10)}).limits_for("gemini-2.5-pro") is None
    assert project().limits_for("gemini-2.5-flash") is None


def test_explicitly_unlimited_model_does_not_fall_back() -> None:
    config = project(**{"gemini-2.5-flash": Limits(), "*": Limits(rpm=1)})
    assert config.limits_for("gemini-2.5-flash") == Limits()


@pytest.mark.parametrize("bad", [{"rpm": 0}, {"tpm": -1}, {"rpx": 5}])
def test_limits_validation(bad: dict[str, int]) -> None:
    with pytest.raises(ValidationError):
        Limits.model_validate(bad)


@pytest.mark.parametrize(
    "bad",
    [
        {"name": "", "keys": [KEY]},
        {"name": "p", "keys": []},
        {"name": "p", "keys": [KEY], "weight": 0},
    ],
)
def test_project_validation(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ProjectConfig.model_validate(bad)


def test_keys_stay_plain_strings() -> None:
    config = ProjectConfig(name="p", keys=[KEY, "second"])
    assert config.keys == [KEY, "second"]
    assert all(type(k) is str for k in config.keys)
    assert config.model_dump()["keys"] == [KEY, "second"]


def test_representations_show_fingerprints_only() -> None:
    config = ProjectConfig(name="p", keys=[KEY], limits={"*": Limits(rpm=3)})
    for text in (repr(config), str(config), f"{config}", repr([config])):
        assert KEY not in text
        assert fingerprint(KEY) in text
    assert "rpm=3" in repr(config)


def test_pretty_printing_shows_fingerprints_only() -> None:
    rich_pretty = pytest.importorskip("rich.pretty")
    text = rich_pretty.pretty_repr(ProjectConfig(name="p", keys=[KEY]))
    assert KEY not in text
    assert fingerprint(KEY) in text


@pytest.mark.parametrize(
    "bad",
    [
        {"name": "p", "keys": KEY},  # a string where a list belongs
        {"name": "p", "key": KEY, "keys": ["x"]},  # a typo'd field
        {"name": "", "keys": [KEY]},
    ],
)
def test_validation_errors_do_not_echo_keys(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError) as info:
        ProjectConfig.model_validate(bad)
    assert KEY not in str(info.value)
    assert KEY not in repr(info.value)
