"""Typed keys of the application's shared resources."""

from __future__ import annotations

from aiohttp import web

from ..actors.host import ActorProcess
from ..actors.system import ActorRuntime
from ..config import Settings
from ..persistence.db import Database
from ..persistence.directory import Directory
from ..persistence.readmodel import ReadModel
from .admission import AdmissionControl
from .bridge import Bridge
from .fanout import OrderFeed
from .hardening import SecurityHeaders
from .metrics import Metrics

SETTINGS = web.AppKey("settings", Settings)
RUNTIME = web.AppKey("runtime", ActorRuntime | ActorProcess)
BRIDGE = web.AppKey("bridge", Bridge)
DB = web.AppKey("db", Database)
READS = web.AppKey("reads", ReadModel)
DIRECTORY = web.AppKey("directory", Directory)
METRICS = web.AppKey("metrics", Metrics)
ADMIN_TOKEN = web.AppKey("admin_token", str)
STREAMS = web.AppKey("streams", set)
OPENAPI = web.AppKey("openapi", dict)
ADMISSION = web.AppKey("admission", AdmissionControl)
FEED = web.AppKey("feed", OrderFeed)
TOSS = web.AppKey("toss", object)
ALIMTALK_HOOKS = web.AppKey("alimtalk_hooks", object)
HEADERS = web.AppKey("headers", SecurityHeaders)
