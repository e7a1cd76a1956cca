"""Configuration: config/default.toml, then an overlay file, then DELIVERY_<SECTION>_<KEY> variables,
validated once and handed out as frozen, typed settings (one dataclass per section)."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "config" / "default.toml"
ENV_PREFIX = "DELIVERY_"
BASES = ("simpleSystemBase", "multiprocTCPBase")
PROVIDERS = ("simulated", "http", "toss")
CHANNELS = ("log", "webhook", "alimtalk")
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
ROOT = DEFAULT_FILE.parent.parent
MIN_ADMIN_TOKEN = 24  # characters; the generated token is 32


class ConfigError(ValueError):
    """A configuration value is missing, unknown or out of range; the message names the key."""


# -- the settings, one frozen dataclass per section of config/default.toml (commented there) --


@dataclass(frozen=True)
class ServerSettings:
    host: str
    port: int
    data_dir: str
    keepalive_timeout_s: float
    body_timeout_s: float
    allowed_hosts: tuple[str, ...]


@dataclass(frozen=True)
class ActorSettings:
    base: str
    max_live_orders: int
    max_live_stores: int
    max_live_riders: int
    admin_port: int
    bind_address: str
    allow_remote: bool
    reply_timeout_s: float
    sweep_interval_s: float
    own_process: bool

    @property
    def apart(self) -> bool:
        """Whether the actors run in a child process of their own, beside the front door's
        (own_process; on multiprocTCPBase every actor has a process of its own anyway)."""
        return self.own_process and self.in_process

    @property
    def in_process(self) -> bool:
        """Whether every actor runs in this process, in the thread that owns the system
        (simpleSystemBase): then they share one connection, group commits and the offload pool."""
        return self.base == "simpleSystemBase"


@dataclass(frozen=True)
class BreakerSettings:
    failure_threshold: int
    reset_timeout_s: float
    max_reset_timeout_s: float


@dataclass(frozen=True)
class SupervisorSettings:
    min_backoff_s: float
    max_backoff_s: float
    random_factor: float
    stable_after_s: float


@dataclass(frozen=True)
class TossSettings:
    base_url: str
    accept_language: str


@dataclass(frozen=True)
class PaymentSettings:
    provider: str
    provider_url: str
    call_timeout_ms: int
    breaker: BreakerSettings
    supervisor: SupervisorSettings
    toss: TossSettings

    @property
    def call_timeout_s(self) -> float:
        return self.call_timeout_ms / 1000


@dataclass(frozen=True)
class DispatchSettings:
    radius_km: float
    max_speed_kmh: float


@dataclass(frozen=True)
class AlimtalkSettings:
    base_url: str
    app_key: str
    sender_key: str
    templates_file: str
    order_url: str
    resend_send_no: str
    poll_interval_s: float
    give_up_after_h: float

    @property
    def templates_path(self) -> Path:
        path = Path(self.templates_file)
        return path if path.is_absolute() else ROOT / path


@dataclass(frozen=True)
class NotificationSettings:
    channels: tuple[str, ...]
    webhook_url: str
    alimtalk: AlimtalkSettings

    @property
    def webhook(self) -> bool:
        return "webhook" in self.channels

    @property
    def alimtalk_on(self) -> bool:
        return "alimtalk" in self.channels


@dataclass(frozen=True)
class AdminSettings:
    token: str


@dataclass(frozen=True)
class OnboardingSettings:
    auto_approve: bool


@dataclass(frozen=True)
class AdmissionSettings:
    enabled: bool
    initial_limit: int
    min_limit: int
    max_limit: int
    queue_target_ms: float
    interval_ms: float
    new_order_share: float
    registration_share: float
    retry_after_ms: float


@dataclass(frozen=True)
class StorageSettings:
    url: str

    @property
    def postgres(self) -> bool:
        """Whether the journal and the rest live in PostgreSQL (else SQLite in data_dir)."""
        return self.url.startswith(("postgresql://", "postgres://"))


@dataclass(frozen=True)
class ClusterSettings:
    node_name: str
    store_partitions: int
    lease_check_interval_s: float
    node_timeout_s: float


@dataclass(frozen=True)
class StreamSettings:
    max_per_token: int
    poll_interval_ms: float
    ping_interval_s: float


@dataclass(frozen=True)
class IdempotencySettings:
    ttl_h: float

    @property
    def ttl_s(self) -> float:
        return self.ttl_h * 3600


@dataclass(frozen=True)
class RateLimitSettings:
    enabled: bool
    token_rate: float
    token_burst: float
    read_token_rate: float
    read_token_burst: float
    address_rate: float
    address_burst: float
    exempt_loopback: bool
    max_clients: int


@dataclass(frozen=True)
class OrderSettings:
    max_unpaid: int
    unpaid_expiry_s: float


@dataclass(frozen=True)
class LoggingSettings:
    level: str
    format: str
    access_log: bool


@dataclass(frozen=True)
class Settings:
    """The whole configuration of a node."""

    server: ServerSettings
    storage: StorageSettings
    cluster: ClusterSettings
    actors: ActorSettings
    payment: PaymentSettings
    dispatch: DispatchSettings
    notifications: NotificationSettings
    admin: AdminSettings
    admission: AdmissionSettings
    streams: StreamSettings
    idempotency: IdempotencySettings
    rate_limit: RateLimitSettings
    orders: OrderSettings
    onboarding: OnboardingSettings
    logging: LoggingSettings


@dataclass(frozen=True)
class RuntimeFacts:
    """What the actor runtime learns at start, beside the configuration."""

    db_path: str
    """Where the database is: the SQLite file under server.data_dir, or storage.url."""
    runtime_id: str
    """This start of the runtime (the offload pool and the pump are keyed by it)."""


def load(overlay: str | Path | None = None, env: Mapping[str, str] | None = None,
         **overrides: Any) -> Settings:
    """The merged, validated settings; `overrides` are dotted keys ("server.port") set last."""
    config = _read_toml(DEFAULT_FILE)
    if overlay:
        _merge(config, _read_toml(Path(overlay)), prefix="")
    _apply_env(config, os.environ if env is None else env)
    for dotted, value in overrides.items():
        if value is not None:
            _set_dotted(config, dotted.replace("__", "."), value)
    _validate(config)
    return _build(Settings, config, "")


def _build(cls: type, table: dict[str, Any], prefix: str) -> Any:
    """A settings dataclass from its TOML table; a key on one side only is a bug of ours."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    if set(table) != names:
        raise ConfigError(f"config section '{prefix or 'root'}' and {cls.__name__} disagree on "
                          f"{sorted(set(table) ^ names)}")
    values = {}
    for name in names:
        hint, value = hints[name], table[name]
        if dataclasses.is_dataclass(hint):
            values[name] = _build(hint, value, f"{prefix}{name}.")
        else:
            values[name] = tuple(value) if typing.get_origin(hint) is tuple else value
    return cls(**values)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {path} is not valid TOML: {e}") from None


def _merge(base: dict[str, Any], over: Mapping[str, Any], prefix: str) -> None:
    for key, value in over.items():
        dotted = f"{prefix}{key}"
        if key not in base:
            raise ConfigError(f"unknown config key '{dotted}'")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"config key '{dotted}' must be a table")
            _merge(base[key], value, prefix=dotted + ".")
        else:
            base[key] = _coerce(dotted, base[key], value)


def _leaves(table: dict[str, Any], path: tuple[str, ...] = ()):
    for key, value in table.items():
        if isinstance(value, dict):
            yield from _leaves(value, path + (key,))
        else:
            yield path + (key,)


def env_name(path: tuple[str, ...]) -> str:
    """The environment variable that overrides the key at `path`."""
    return ENV_PREFIX + "_".join(path).upper()


def _apply_env(config: dict[str, Any], env: Mapping[str, str]) -> None:
    for path in list(_leaves(config)):
        name = env_name(path)
        if name in env:
            _set_dotted(config, ".".join(path), env[name], source=name)


def _set_dotted(config: dict[str, Any], dotted: str, value: Any, source: str | None = None) -> None:
    *parents, leaf = dotted.split(".")
    table = config
    for part in parents:
        table = table.get(part)
        if not isinstance(table, dict):
            raise ConfigError(f"unknown config key '{dotted}'")
    if leaf not in table or isinstance(table[leaf], dict):
        raise ConfigError(f"unknown config key '{dotted}'")
    table[leaf] = _coerce(dotted, table[leaf], value, source)


def _coerce(key: str, default: Any, value: Any, source: str | None = None) -> Any:
    """Convert `value` to the type of the default, naming the key when it cannot."""
    where = f"'{key}'" + (f" (from {source})" if source else "")
    try:
        if isinstance(default, bool):
            return _to_bool(value)
        if isinstance(default, int):
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if isinstance(default, float):
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if isinstance(default, list):
            return _to_list(value)
        if isinstance(value, str):
            return value
        raise ValueError
    except (TypeError, ValueError):
        kind = type(default).__name__
        raise ConfigError(f"config key {where} must be of type {kind}, got {value!r}") from None


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(value)


def _to_list(value: Any) -> list[str]:
    if isinstance(value, list):
        items = value
    elif isinstance(value, str) and value.strip().startswith("["):
        items = json.loads(value)
    elif isinstance(value, str):
        items = [part.strip() for part in value.split(",") if part.strip()]
    else:
        raise ValueError(value)
    if not all(isinstance(item, str) for item in items):
        raise ValueError(value)
    return list(items)


def _require(ok: bool, key: str, what: str, value: Any) -> None:
    if not ok:
        raise ConfigError(f"config key '{key}' {what}, got {value!r}")


def _is_loopback(address: str) -> bool:
    try:
        return address == "localhost" or ipaddress.ip_address(address).is_loopback
    except ValueError:  # a host name: it may resolve anywhere
        return False


def _validate(c: dict[str, Any]) -> None:
    a, p, b, s = c["actors"], c["payment"], c["payment"]["breaker"], c["payment"]["supervisor"]
    _require(1 <= c["server"]["port"] <= 65535 or c["server"]["port"] == 0, "server.port",
             "must be a TCP port (0 picks a free one)", c["server"]["port"])
    _require(a["base"] in BASES, "actors.base", f"must be one of {', '.join(BASES)}", a["base"])
    for key in ("max_live_orders", "max_live_stores", "max_live_riders"):
        _require(a[key] >= 1, f"actors.{key}", "must be at least 1", a[key])
    _require(1024 <= a["admin_port"] <= 65535, "actors.admin_port", "must be 1024..65535", a["admin_port"])
    # Thespian's sockets take orders from whoever connects: only loopback unless asked in words.
    _require(a["allow_remote"] or _is_loopback(a["bind_address"]), "actors.bind_address",
             "is not a loopback address; set actors.allow_remote = true to accept that", a["bind_address"])
    _require(a["reply_timeout_s"] > 0, "actors.reply_timeout_s", "must be positive", a["reply_timeout_s"])
    _require(a["sweep_interval_s"] > 0, "actors.sweep_interval_s", "must be positive", a["sweep_interval_s"])
    _require(p["provider"] in PROVIDERS, "payment.provider", f"must be one of {', '.join(PROVIDERS)}",
             p["provider"])
    _require(p["provider"] != "http" or p["provider_url"].startswith(("http://", "https://")),
             "payment.provider_url", "must be an http(s) URL when payment.provider is http",
             p["provider_url"])
    _require(p["call_timeout_ms"] > 0, "payment.call_timeout_ms", "must be positive", p["call_timeout_ms"])
    _require(b["failure_threshold"] >= 1, "payment.breaker.failure_threshold", "must be at least 1",
             b["failure_threshold"])
    _require(0 < b["reset_timeout_s"] <= b["max_reset_timeout_s"], "payment.breaker.reset_timeout_s",
             "must be positive and at most max_reset_timeout_s", b["reset_timeout_s"])
    _require(0 < s["min_backoff_s"] <= s["max_backoff_s"], "payment.supervisor.min_backoff_s",
             "must be positive and at most max_backoff_s", s["min_backoff_s"])
    _require(s["stable_after_s"] > 0, "payment.supervisor.stable_after_s", "must be positive",
             s["stable_after_s"])
    _require(0 <= s["random_factor"] <= 1, "payment.supervisor.random_factor", "must be 0..1",
             s["random_factor"])
    _require(c["dispatch"]["radius_km"] > 0, "dispatch.radius_km", "must be positive",
             c["dispatch"]["radius_km"])
    _require(c["dispatch"]["max_speed_kmh"] > 0, "dispatch.max_speed_kmh", "must be positive",
             c["dispatch"]["max_speed_kmh"])
    url = c["storage"]["url"]
    _require(url == "" or url.startswith(("postgresql://", "postgres://")), "storage.url",
             "must be empty (SQLite in server.data_dir) or a postgresql:// URL", url)
    _validate_cluster(c["cluster"])
    _validate_admission(c["admission"])
    _validate_front_door(c["server"], c["streams"])
    _validate_limits(c)
    _validate_access(c["server"], c["admin"])
    channels = c["notifications"]["channels"]
    _require(bool(channels) and all(ch in CHANNELS for ch in channels), "notifications.channels",
             f"must be a non-empty list of {', '.join(CHANNELS)}", channels)
    _require("webhook" not in channels or c["notifications"]["webhook_url"].startswith(("http://", "https://")),
             "notifications.webhook_url", "must be an http(s) URL when the webhook channel is on",
             c["notifications"]["webhook_url"])
    _validate_providers(c)


def _validate_providers(c: dict[str, Any]) -> None:
    toss = c["payment"]["toss"]
    _require(toss["base_url"].startswith(("http://", "https://")), "payment.toss.base_url",
             "must be an http(s) URL", toss["base_url"])
    _require(toss["accept_language"] in ("ko", "en-US"), "payment.toss.accept_language",
             "must be ko or en-US", toss["accept_language"])
    a = c["notifications"]["alimtalk"]
    _require(a["base_url"].startswith(("http://", "https://")), "notifications.alimtalk.base_url",
             "must be an http(s) URL", a["base_url"])
    _require(a["poll_interval_s"] > 0, "notifications.alimtalk.poll_interval_s", "must be positive",
             a["poll_interval_s"])
    _require(a["give_up_after_h"] > 0, "notifications.alimtalk.give_up_after_h",
             "must be positive", a["give_up_after_h"])
    if "alimtalk" not in c["notifications"]["channels"]:
        return
    _require(bool(a["app_key"]), "notifications.alimtalk.app_key",
             "must be set when the alimtalk channel is on", a["app_key"])
    _require(bool(a["sender_key"]), "notifications.alimtalk.sender_key",
             "must be set when the alimtalk channel is on", a["sender_key"])
    _require("{order_id}" in a["order_url"], "notifications.alimtalk.order_url",
             "must hold {order_id}", a["order_url"])
    from .notify import templates  # the channel's own check of its template table
    path = Path(a["templates_file"])
    try:
        templates.load(path if path.is_absolute() else ROOT / path)
    except templates.TemplateError as exc:
        raise ConfigError(f"config key 'notifications.alimtalk.templates_file': {exc}") from None


def _validate_access(server: dict[str, Any], admin: dict[str, Any]) -> None:
    hosts = server["allowed_hosts"]
    _require(all(h.strip() for h in hosts), "server.allowed_hosts",
             "must be a list of host names (\"*\" for any)", hosts)
    token = admin["token"]
    # A short operator-chosen token can be guessed; never echo it in the error.
    _require(not token or len(token) >= MIN_ADMIN_TOKEN, "admin.token",
             f"must be at least {MIN_ADMIN_TOKEN} characters (empty: one is generated)",
             f"{len(token)} characters")


def _validate_cluster(k: dict[str, Any]) -> None:
    _require(len(k["node_name"]) <= 200 and k["node_name"] == k["node_name"].strip(),
             "cluster.node_name", "must be at most 200 characters without surrounding spaces",
             k["node_name"])
    _require(1 <= k["store_partitions"] <= 1024, "cluster.store_partitions", "must be 1..1024",
             k["store_partitions"])
    _require(k["lease_check_interval_s"] > 0, "cluster.lease_check_interval_s",
             "must be positive", k["lease_check_interval_s"])
    _require(k["node_timeout_s"] > k["lease_check_interval_s"], "cluster.node_timeout_s",
             "must be longer than cluster.lease_check_interval_s", k["node_timeout_s"])


def _validate_admission(a: dict[str, Any]) -> None:
    _require(1 <= a["min_limit"] <= a["max_limit"], "admission.min_limit",
             "must be at least 1 and at most admission.max_limit", a["min_limit"])
    _require(a["min_limit"] <= a["initial_limit"] <= a["max_limit"], "admission.initial_limit",
             "must be within admission.min_limit..max_limit", a["initial_limit"])
    for key in ("queue_target_ms", "interval_ms", "retry_after_ms"):
        _require(a[key] > 0, f"admission.{key}", "must be positive", a[key])
    _require(0 < a["new_order_share"] <= 1, "admission.new_order_share", "must be within 0..1",
             a["new_order_share"])
    _require(0 < a["registration_share"] <= a["new_order_share"], "admission.registration_share",
             "must be positive and at most admission.new_order_share", a["registration_share"])


def _validate_front_door(server: dict[str, Any], streams: dict[str, Any]) -> None:
    for key in ("keepalive_timeout_s", "body_timeout_s"):
        _require(server[key] > 0, f"server.{key}", "must be positive", server[key])
    _require(streams["max_per_token"] >= 1, "streams.max_per_token", "must be at least 1",
             streams["max_per_token"])
    for key in ("poll_interval_ms", "ping_interval_s"):
        _require(streams[key] > 0, f"streams.{key}", "must be positive", streams[key])


def _validate_limits(c: dict[str, Any]) -> None:
    _require(c["idempotency"]["ttl_h"] > 0, "idempotency.ttl_h", "must be positive",
             c["idempotency"]["ttl_h"])
    r = c["rate_limit"]
    for key in ("token_rate", "read_token_rate", "address_rate"):
        _require(r[key] > 0, f"rate_limit.{key}", "must be positive", r[key])
    for key in ("token_burst", "read_token_burst", "address_burst"):
        _require(r[key] >= 1, f"rate_limit.{key}", "must be at least 1", r[key])
    _require(r["max_clients"] >= 1, "rate_limit.max_clients", "must be at least 1", r["max_clients"])
    lg = c["logging"]
    _require(lg["format"] in LOG_FORMATS, "logging.format", f"must be one of {', '.join(LOG_FORMATS)}",
             lg["format"])
    _require(lg["level"] in LOG_LEVELS, "logging.level", f"must be one of {', '.join(LOG_LEVELS)}",
             lg["level"])
    o = c["orders"]
    _require(o["max_unpaid"] >= 1, "orders.max_unpaid", "must be at least 1", o["max_unpaid"])
    _require(o["unpaid_expiry_s"] > 0, "orders.unpaid_expiry_s", "must be positive",
             o["unpaid_expiry_s"])
