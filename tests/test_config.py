from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from gemgate.config import Settings
from gemgate.errors import ConfigError
from gemgate.policy._selection import Strategy
from gemgate.projects import Limits, fingerprint

KEY_A = "FAKEkeyA-first-secret-key-000000000000"
KEY_B = "FAKEkeyB-second-secret-key-11111111111"
KEY_C = "FAKEkeyC-third-secret-key-222222222222"
KEY_TOML = "FAKEkeyT-toml-secret-key-3333333333333"


def env_name(key: str) -> str:
    return f"env-{fingerprint(key).removeprefix('key:')}"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in list(os.environ):
        if name in ("GEMINI_API_KEY", "GOOGLE_API_KEY") or name.startswith(
            ("GEMINI_API_KEY_", "GEMGATE_")
        ):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env
    return tmp_path


TOML = f"""
default_model = "gemini-2.5-pro"
upstream_url = "http://toml.invalid"
strategy = "least_loaded"

[timeouts]
generate = 5.0
connect = 2.5

[retry]
max_retries = 2

[[projects]]
name = "alpha"
keys = ["{KEY_TOML}", "{KEY_A}"]
weight = 3.0
[projects.limits."gemini-2.5-flash"]
rpm = 10
tpm = 250000
[projects.limits."*"]
rpd = 100

[[projects]]
name = "beta"
keys = ["FAKEkeyX-beta-key"]

[emulator]
latency = 0.0
whatever = "ignored by Settings"
"""


def write_toml(tmp_path: Path, text: str = TOML) -> Path:
    path = tmp_path / "gemgate.toml"
    path.write_text(text)
    return path


# --- keys from the environment -------------------------------------------------------------


def test_no_key_chooses_nothing_by_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings.load()
    assert settings.projects == []
    assert not settings.uses_emulator  # the library then refuses to start (test_no_key.py)
    monkeypatch.setenv("GEMGATE_UPSTREAM", "emulator")
    assert Settings.load().uses_emulator


def test_one_key_is_one_project_named_by_fingerprint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", KEY_A)
    settings = Settings.load()
    assert [(p.name, p.keys) for p in settings.projects] == [(env_name(KEY_A), [KEY_A])]
    assert not settings.uses_emulator


def test_google_api_key_is_read_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", KEY_B)
    assert [p.keys for p in Settings.load().projects] == [[KEY_B]]


def test_the_same_key_twice_is_one_project(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", KEY_A)
    monkeypatch.setenv("GOOGLE_API_KEY", KEY_A)
    monkeypatch.setenv("GEMINI_API_KEY_1", f"  {KEY_A}  ")
    assert [p.keys for p in Settings.load().projects] == [[KEY_A]]


def test_numbered_keys_are_sorted_numerically(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY_10", "key-ten")
    monkeypatch.setenv("GEMINI_API_KEY_2", "key-two")
    monkeypatch.setenv("GEMINI_API_KEY_1", "key-one")
    monkeypatch.setenv("GEMINI_API_KEY_3", "")  # empty: skipped
    monkeypatch.setenv("GEMINI_API_KEY_X", "not-numbered")
    monkeypatch.setenv("GEMINI_API_KEY", KEY_A)
    monkeypatch.setenv("GOOGLE_API_KEY", KEY_B)
    keys = [p.keys[0] for p in Settings.load().projects]
    assert keys == [KEY_A, KEY_B, "key-one", "key-two", "key-ten"]


def test_environ_argument_replaces_the_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", KEY_A)
    settings = Settings.load(environ={"GEMINI_API_KEY_1": KEY_C})
    assert [p.keys for p in settings.projects] == [[KEY_C]]


# --- the TOML file ---------------------------------------------------------------------------


def test_toml_projects_limits_and_tables(tmp_path: Path) -> None:
    settings = Settings.load(config=write_toml(tmp_path))
    alpha, beta = settings.projects
    assert (alpha.name, alpha.keys, alpha.weight) == ("alpha", [KEY_TOML, KEY_A], 3.0)
    assert alpha.limits_for("gemini-2.5-flash") == Limits(rpm=10, tpm=250_000)
    assert alpha.limits_for("gemini-2.5-pro") == Limits(rpd=100)
    assert (beta.name, beta.limits_for("gemini-2.5-flash")) == ("beta", None)
    assert settings.timeouts.generate == 5.0
    assert settings.timeouts.connect == 2.5
    assert settings.timeouts.total == 600.0  # untouched defaults survive
    assert settings.retry.max_retries == 2
    assert settings.default_model == "gemini-2.5-pro"
    assert settings.strategy is Strategy.LEAST_LOADED
    assert settings.upstream_url == "http://toml.invalid"
    assert not hasattr(settings, "emulator")


def test_gemgate_config_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMGATE_CONFIG", str(write_toml(tmp_path)))
    assert [p.name for p in Settings.load().projects] == ["alpha", "beta"]


def test_env_keys_already_in_the_file_are_not_duplicated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", KEY_A)  # alpha's second key
    monkeypatch.setenv("GEMINI_API_KEY_1", KEY_C)  # a loose key
    settings = Settings.load(config=write_toml(tmp_path))
    assert [p.name for p in settings.projects] == ["alpha", "beta", env_name(KEY_C)]


def test_bad_toml_values_are_rejected(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[timeouts]\ngenerate = 5.0\nnot_a_timeout = 1\n")
    with pytest.raises(ConfigError):
        Settings.load(config=path)


# --- GEMGATE_* settings and precedence ---------------------------------------------------------


def test_upstream_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMGATE_UPSTREAM_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("GEMGATE_API_VERSION", "v1")
    settings = Settings.load()
    assert settings.upstream_url == "http://127.0.0.1:9"
    assert settings.api_version == "v1"
    assert settings.projects == []
    assert not settings.uses_emulator  # an upstream was named


def test_invalid_api_version_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMGATE_API_VERSION", "v9")
    with pytest.raises(ConfigError, match="^GEMGATE_API_VERSION: input should be 'v1beta'"):
        Settings.load()


def test_environment_beats_the_file_and_overrides_beat_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_toml(tmp_path)
    monkeypatch.setenv("GEMGATE_UPSTREAM_URL", "http://env.invalid")
    settings = Settings.load(config=path)
    assert settings.upstream_url == "http://env.invalid"
    assert settings.default_model == "gemini-2.5-pro"  # not in the environment: the file's
    overridden = Settings.load(config=path, upstream_url="http://override.invalid")
    assert overridden.upstream_url == "http://override.invalid"


def test_dotenv_supplies_keys_and_settings(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        f"GEMINI_API_KEY={KEY_A}\nGEMGATE_UPSTREAM_URL=http://dotenv.invalid\n"
    )
    settings = Settings.load()
    assert [p.keys for p in settings.projects] == [[KEY_A]]
    assert settings.upstream_url == "http://dotenv.invalid"


def test_process_environment_beats_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text(f"GEMINI_API_KEY={KEY_A}\nGEMGATE_DEFAULT_MODEL=dotenv\n")
    monkeypatch.setenv("GEMINI_API_KEY", KEY_B)
    monkeypatch.setenv("GEMGATE_DEFAULT_MODEL", "env")
    settings = Settings.load()
    assert [p.keys for p in settings.projects] == [[KEY_B]]
    assert settings.default_model == "env"


def test_settings_are_frozen() -> None:
    settings = Settings.load()
    with pytest.raises(ValidationError):
        setattr(settings, "default_model", "x")  # noqa: B010 - mypy misses pydantic's frozen


# --- secrets -----------------------------------------------------------------------------------


def test_keys_never_appear_in_repr_or_str(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", KEY_B)
    settings = Settings.load(config=write_toml(tmp_path))
    texts = [repr(settings), str(settings), f"{settings!s}", repr(settings.projects)]
    for text in texts:
        for key in (KEY_A, KEY_B, KEY_TOML):
            assert key not in text
        assert fingerprint(KEY_B) in text
    assert settings.projects[0].keys[0] == KEY_TOML  # still usable as a plain string


def test_keys_never_appear_in_pretty_printing(monkeypatch: pytest.MonkeyPatch) -> None:
    rich_pretty = pytest.importorskip("rich.pretty")
    monkeypatch.setenv("GEMINI_API_KEY", KEY_A)
    assert KEY_A not in rich_pretty.pretty_repr(Settings.load())


def test_keys_never_appear_in_validation_errors(tmp_path: Path) -> None:
    bad = f'[[projects]]\nname = "p"\nkeys = "{KEY_A}"\napi_key = "{KEY_B}"\n'
    with pytest.raises(ConfigError) as info:
        Settings.load(config=write_toml(tmp_path, bad))
    assert KEY_A not in str(info.value)
    assert KEY_B not in str(info.value)


# --- unknown keys and one-line errors ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("max_bodybytes = 1\n", "unknown key 'max_bodybytes' (did you mean 'max_body_bytes'?)"),
        (
            '[model_route]\nfast = ["a"]\n',
            "unknown key 'model_route' (did you mean 'model_routes'?)",
        ),
        (
            "[timeouts]\ngenrate = 1.0\n",
            "unknown key 'timeouts.genrate' (did you mean 'generate'?)",
        ),
        (
            '[[projects]]\nname = "p"\nkeys = ["k"]\n'
            '[projects.limits."gemini-2.5-flash"]\nrpmm = 1\n',
            "unknown key 'projects[0].limits.\"gemini-2.5-flash\".rpmm' (did you mean 'rpm'?)",
        ),
        ("[backends.local]\nbase = 'http://x'\n", "backends.local.base_url: field required"),
        ("unheard_of = 1\n", "unknown key 'unheard_of'"),
    ],
)
def test_unknown_keys_in_the_file_are_errors_with_a_suggestion(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write_toml(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        Settings.load(config=path)
    assert str(info.value).startswith(f"{path}: {expected}")
    assert "\n" not in str(info.value)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = 'max_bodybytes = 1\nhistory_size = "many"\n[timeouts]\ngenrate = 1.0\n'
    with pytest.raises(ConfigError) as info:
        Settings.load(config=write_toml(tmp_path, text))
    assert str(info.value) == (
        f"{tmp_path / 'gemgate.toml'}: unknown key 'max_bodybytes' (did you mean "
        "'max_body_bytes'?); unknown key 'timeouts.genrate' (did you mean 'generate'?); "
        "history_size: input should be a valid integer, unable to parse string as an integer"
    )


def test_the_emulator_table_belongs_to_the_emulator(tmp_path: Path) -> None:
    settings = Settings.load(config=write_toml(tmp_path, "[emulator]\nseed = 1\n"))
    assert not hasattr(settings, "emulator")


def test_constructor_rejects_unknown_keys_at_any_depth() -> None:
    with pytest.raises(ConfigError, match=r"^unknown key 'max_bodybytes' \(did you mean 'max_"):
        Settings(max_bodybytes=1)
    with pytest.raises(ConfigError, match=r"^unknown key 'retry.max_retry' \(did you mean 'max_r"):
        Settings(retry={"max_retry": 1})


def test_constructor_errors_are_config_errors_not_pydantic_tracebacks() -> None:
    import gemgate
    from gemgate.errors import GemgateError

    with pytest.raises(ConfigError) as info:
        Settings(max_body_bytes="huge")
    assert str(info.value) == (
        "max_body_bytes: input should be a valid integer, unable to parse string as an integer"
    )
    assert isinstance(info.value, GemgateError | ValueError)
    assert not isinstance(info.value, ValidationError)
    assert info.value.__cause__ is None and info.value.__context__ is None  # no chained trace
    assert gemgate.ConfigError is ConfigError


def test_toml_syntax_errors_name_the_line_and_column(tmp_path: Path) -> None:
    path = write_toml(tmp_path, 'default_model = "x"\n[timeouts\n')
    with pytest.raises(ConfigError) as info:
        Settings.load(config=path)
    assert str(info.value) == (
        f"{path}:2:10: invalid TOML: Expected ']' at the end of a table declaration"
    )


def test_a_missing_file_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMGATE_CONFIG", "nope.toml")
    with pytest.raises(
        ConfigError, match=r"^nope\.toml: no such file \(named by GEMGATE_CONFIG\)$"
    ):
        Settings.load()
    with pytest.raises(ConfigError, match=r"^gone\.toml: no such file$"):
        Settings.load(config="gone.toml")


def test_a_bad_value_from_the_environment_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEMGATE_MAX_BODY_BYTES", "huge")
    with pytest.raises(ConfigError, match="^GEMGATE_MAX_BODY_BYTES: input should be a valid int"):
        Settings.load(config=write_toml(tmp_path, 'default_model = "x"\n'))


def test_unknown_gemgate_variables_only_warn(monkeypatch: pytest.MonkeyPatch) -> None:
    from gemgate.errors import ConfigWarning

    with pytest.warns(ConfigWarning) as caught:
        settings = Settings.load(
            environ={"GEMGATE_MAX_BODYBYTES": "1", "GEMGATE_SOMETHING_ELSE": "x", "OTHER": "y"}
        )
    assert [str(w.message) for w in caught] == [
        "GEMGATE_MAX_BODYBYTES names no gemgate setting and is ignored "
        "(did you mean GEMGATE_MAX_BODY_BYTES?)",
        "GEMGATE_SOMETHING_ELSE names no gemgate setting and is ignored",
    ]
    assert caught[0].filename == __file__  # points at the caller
    assert settings.max_body_bytes == Settings.model_fields["max_body_bytes"].default


def test_keys_never_appear_in_unknown_key_errors(tmp_path: Path) -> None:
    secret = "AIza" + "-fake-misplaced-test-secret"  # matches the key rule; not a real key
    with pytest.raises(ConfigError) as info:
        Settings.load(config=write_toml(tmp_path, f'"{secret}" = 1\n'))
    assert secret not in str(info.value)
    assert fingerprint(secret) in str(info.value)


def test_emulator_config_files_are_checked_the_same_way(tmp_path: Path) -> None:
    from gemgate.emulator import EmulatorConfig

    shared = write_toml(tmp_path, "max_body_bytes = 10\n[emulator]\nseed = 3\n")
    assert EmulatorConfig.from_toml(shared).emulator.seed == 3  # the gateway's keys are fine
    bad = write_toml(tmp_path, "[emulator]\nsed = 3\n")
    with pytest.raises(
        ConfigError, match=r": unknown key 'emulator.sed' \(did you mean 'seed'\?\)"
    ):
        EmulatorConfig.from_toml(bad)
    bad = write_toml(tmp_path, "[emulatr]\nseed = 3\n")
    with pytest.raises(ConfigError, match=r": unknown key 'emulatr' \(did you mean 'emulator'\?\)"):
        EmulatorConfig.from_toml(bad)


def test_the_environment_beats_the_state_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_toml(tmp_path, '[state]\nurl = "redis://file:6379/0"\nprefix = "file:"\n')
    monkeypatch.setenv("GEMGATE_STATE_URL", "redis://env:6379/0")
    settings = Settings.load(config=path)
    assert settings.state_url == "redis://env:6379/0"  # the environment wins, as elsewhere
    assert settings.state_prefix == "file:"  # the rest of the table still counts
