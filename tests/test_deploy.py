"""The scale-out recipe (compose.yaml, deploy/) stays consistent with the code."""

from __future__ import annotations

from pathlib import Path

import yaml

from gemgate.config import Settings
from gemgate.projects import hash_secret

ROOT = Path(__file__).resolve().parents[1]


def test_the_gateways_config_is_valid_and_shares_state() -> None:
    settings = Settings.load(config=ROOT / "deploy" / "gemgate.toml")
    assert settings.state_url is not None and settings.state_url.startswith("redis://")
    assert settings.sessions_url.startswith("postgresql://")
    (key,) = settings.gateway_keys
    assert key.secret_sha256 == hash_secret("change-me")  # the secret the comments name


def test_compose_runs_three_gateways_on_one_config() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    gateways = [name for name in services if name.startswith("gateway-")]
    assert len(gateways) == 3
    for name in gateways:
        service = services[name]
        assert service["command"][0] == "serve" and "/etc/gemgate.toml" in service["command"]
        assert "./deploy/gemgate.toml:/etc/gemgate.toml:ro" in service["volumes"]
        assert service["environment"]["GEMGATE_LOGIN_SECRET"]  # the same for all of them
    assert {"redis", "postgres", "emulator", "nginx"} <= set(services)
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    assert all(f"server {name}:8080;" in nginx for name in gateways)
