"""RiderActor: one per rider; knows where the rider is and asks orders to be picked up."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .. import clock
from ..domain import commands as c
from ..domain.geo import location_json
from ..domain.movement import check_move
from ..domain.onboarding import initial_status
from ..domain.refusal import Refusal
from ..persistence.directory import Directory
from .base import handles
from .entity import EntityActor
from .messages import Envelope


class RiderActor(EntityActor):
    """The live rider."""

    KIND = "rider"

    def activated(self) -> None:
        self.directory = Directory(self.db)
        self.exists, self.location, self.located_at = self.directory.rider_seen(self.key)

    @handles(c.RegisterRider)
    def on_register(self, envelope: Envelope, sender: Any) -> None:
        m: c.RegisterRider = envelope.body
        if not self.exists:
            now = clock.now()
            self.directory.add_rider(m.rider_id, m.name, m.phone, m.location, m.token, now,
                                     status=initial_status(self.settings.onboarding.auto_approve))
            self.exists, self.location = True, m.location
            self.located_at = now if m.location else None
        self.reply(envelope, sender, {"id": self.key,
                                      "status": self.directory.status("riders", self.key)})

    @handles(c.MoveRider)
    def on_move(self, envelope: Envelope, sender: Any) -> None:
        if not self.exists:
            self.reply(envelope, sender, refusal=Refusal("not_found", "rider does not exist"))
            return
        now = clock.now()
        refusal = check_move(self.location, _parsed(self.located_at), envelope.body.location,
                             _parsed(now), self.settings.dispatch.max_speed_kmh)
        if refusal:
            self.reply(envelope, sender, refusal=refusal)
            return
        self.location, self.located_at = envelope.body.location, now
        self.directory.move_rider(self.key, self.location, now)
        self.reply(envelope, sender, {"id": self.key, "location": location_json(self.location)})

    @handles(c.PickUp)
    def on_pick_up(self, envelope: Envelope, sender: Any) -> None:
        if not self.exists:
            self.reply(envelope, sender, refusal=Refusal("not_found", "rider does not exist"))
            return
        m: c.PickUp = envelope.body
        command = c.PickUpOrder(m.order_id, self.key, self.location,
                                self.settings.dispatch.radius_km)
        self.send(self.peers.orders, Envelope(envelope.corr, command, envelope.reply_to or sender))

    def describe(self) -> str:
        if self.location is None:
            return "no location"
        return f"at {self.location.lat:.5f},{self.location.lon:.5f}"


def _parsed(at: str | None) -> datetime | None:
    return None if at is None else datetime.fromisoformat(at)
