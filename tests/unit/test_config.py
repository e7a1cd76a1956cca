"""Configuration: defaults, overlay file, DELIVERY_* variables, errors that name the key."""

import pytest

from delivery import config


def test_defaults_hold_every_key_of_the_operator_contract():
    c = config.load(env={})
    assert c.server == config.ServerSettings(host="127.0.0.1", port=8080, data_dir="./data",
                                             keepalive_timeout_s=15.0, body_timeout_s=10.0,
                                             allowed_hosts=("localhost", "127.0.0.1", "[::1]"))
    assert c.streams == config.StreamSettings(max_per_token=4, poll_interval_ms=100.0,
                                              ping_interval_s=15.0)
    assert c.actors.max_live_orders == 200 and c.actors.in_process
    assert c.payment.call_timeout_ms == 610 and c.payment.provider == "simulated"
    assert c.payment.call_timeout_s == 0.61
    assert c.payment.breaker == config.BreakerSettings(
        failure_threshold=5, reset_timeout_s=10.0, max_reset_timeout_s=60.0)
    assert c.payment.supervisor == config.SupervisorSettings(
        min_backoff_s=0.2, max_backoff_s=5.0, random_factor=0.1, stable_after_s=10.0)
    assert c.dispatch.radius_km == 3.0
    assert (c.notifications.channels, c.notifications.webhook_url) == (("log",), "")
    assert c.payment.toss.base_url == "https://api.tosspayments.com"
    assert c.admin.token == ""


def test_settings_are_frozen_values():
    c = config.load(env={})
    with pytest.raises(AttributeError):
        c.payment.call_timeout_ms = 1  # type: ignore[misc]
    assert config.load(env={}) == c
    assert not config.load(env={}, **{"actors.base": "multiprocTCPBase"}).actors.in_process


def test_every_default_key_has_a_comment():
    for line in config.DEFAULT_FILE.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            assert "#" in line, f"uncommented key: {line}"


def test_an_overlay_file_overrides_and_environment_overrides_the_overlay(tmp_path):
    overlay = tmp_path / "fast.toml"
    overlay.write_text("[payment]\ncall_timeout_ms = 100\n[payment.breaker]\nfailure_threshold = 2\n")
    c = config.load(overlay, env={"DELIVERY_PAYMENT_CALL_TIMEOUT_MS": "300",
                                  "DELIVERY_NOTIFICATIONS_CHANNELS": "log"})
    assert c.payment.call_timeout_ms == 300
    assert c.payment.breaker.failure_threshold == 2
    assert c.notifications.channels == ("log",)


def test_nested_sections_have_environment_names():
    c = config.load(env={"DELIVERY_PAYMENT_BREAKER_RESET_TIMEOUT_S": "2.5"})
    assert c.payment.breaker.reset_timeout_s == 2.5


@pytest.mark.parametrize("env,key", [
    ({"DELIVERY_SERVER_PORT": "eighty"}, "server.port"),
    ({"DELIVERY_SERVER_PORT": "70000"}, "server.port"),
    ({"DELIVERY_ACTORS_BASE": "threadBase"}, "actors.base"),
    ({"DELIVERY_ACTORS_MAX_LIVE_ORDERS": "0"}, "actors.max_live_orders"),
    ({"DELIVERY_DISPATCH_RADIUS_KM": "-1"}, "dispatch.radius_km"),
    ({"DELIVERY_PAYMENT_PROVIDER": "http"}, "payment.provider_url"),
    ({"DELIVERY_NOTIFICATIONS_CHANNELS": "log,sms"}, "notifications.channels"),
    ({"DELIVERY_PAYMENT_SUPERVISOR_RANDOM_FACTOR": "2"}, "payment.supervisor.random_factor"),
])
def test_a_bad_value_is_an_error_naming_the_key(env, key):
    with pytest.raises(config.ConfigError, match=key.replace(".", r"\.")):
        config.load(env=env)


def test_unknown_keys_and_broken_files_are_errors(tmp_path):
    typo = tmp_path / "typo.toml"
    typo.write_text("[payment]\ncall_timout_ms = 1\n")
    with pytest.raises(config.ConfigError, match="payment.call_timout_ms"):
        config.load(typo, env={})
    broken = tmp_path / "broken.toml"
    broken.write_text("[payment\n")
    with pytest.raises(config.ConfigError, match="not valid TOML"):
        config.load(broken, env={})
    with pytest.raises(config.ConfigError, match="does not exist"):
        config.load(tmp_path / "missing.toml", env={})


def test_overrides_from_the_command_line_win():
    c = config.load(env={"DELIVERY_SERVER_PORT": "9000"}, **{"server.port": 9100, "server.host": None})
    assert c.server.port == 9100 and c.server.host == "127.0.0.1"


@pytest.mark.parametrize("key, value", [
    ("server.keepalive_timeout_s", 0), ("server.body_timeout_s", -1),
    ("streams.max_per_token", 0), ("streams.poll_interval_ms", 0), ("streams.ping_interval_s", 0)])
def test_front_door_timeouts_and_stream_limits_must_be_positive(key, value):
    with pytest.raises(config.ConfigError, match=key.replace(".", r"\.")):
        config.load(env={}, **{key: value})


@pytest.mark.parametrize("token", ["x" * 23, "short"])
def test_a_configured_admin_token_shorter_than_24_characters_is_refused(token):
    with pytest.raises(config.ConfigError, match=r"'admin\.token'.*24 characters") as err:
        config.load(env={"DELIVERY_ADMIN_TOKEN": token})
    assert token not in str(err.value)


def test_a_24_character_admin_token_and_the_default_loopback_hosts_are_accepted():
    c = config.load(env={"DELIVERY_ADMIN_TOKEN": "x" * 24})
    assert c.admin.token == "x" * 24
    assert c.server.allowed_hosts == ("localhost", "127.0.0.1", "[::1]")


@pytest.mark.parametrize("address", ["0.0.0.0", "192.168.0.10", "actors.example"])
def test_actor_sockets_beyond_loopback_are_refused_unless_allowed_in_words(address):
    with pytest.raises(config.ConfigError, match=r"actors\.bind_address.*actors\.allow_remote"):
        config.load(env={"DELIVERY_ACTORS_BIND_ADDRESS": address})
    allowed = config.load(env={"DELIVERY_ACTORS_BIND_ADDRESS": address,
                               "DELIVERY_ACTORS_ALLOW_REMOTE": "true"})
    assert allowed.actors.bind_address == address and allowed.actors.allow_remote


def test_every_loopback_address_is_accepted_by_default():
    for address in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        assert config.load(env={"DELIVERY_ACTORS_BIND_ADDRESS": address}).actors.bind_address == address
