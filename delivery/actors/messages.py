"""The actors' vocabulary: envelopes, replies and internal messages; one codec serves them all."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import codec
from ..config import RuntimeFacts, Settings
from ..domain.refusal import Refusal
from ..payment.provider import Booking

# -- envelope and replies --------------------------------------------------------------------


@dataclass(frozen=True)
class Envelope:
    """A request travelling to an actor, kept apart from the message it carries."""

    corr: str
    """Correlation id chosen by the requester; the reply carries it back."""
    body: Any
    """The command or query."""
    reply_to: Any = None
    """Address of the requester (set by the first actor that receives it); None: no reply."""


@dataclass(frozen=True)
class Batch:
    """Requests that arrived together at the front door, handed in with one message.

    The pump hands them to the guardian, which gives each registry its share as one Batch too
    (a registry routes each as if it had come alone): one message per registry and turn instead
    of two per request.
    """

    items: tuple[tuple[str, Envelope], ...]
    """(well-known actor name, envelope) pairs."""


@dataclass(frozen=True)
class Reply:
    """The answer to an Envelope: a result, or a refusal."""

    corr: str
    """The request's correlation id."""
    result: Any = None
    """What was asked for: an order view, an id, statistics..."""
    refusal: Refusal | None = None
    """Why the request was refused; None on success."""


# -- lifecycle ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Boot:
    """Guardian: start the system's singletons with this configuration."""

    settings: Settings
    """The node's configuration."""
    facts: RuntimeFacts
    """Where the database is, which start of the runtime this is."""


@dataclass(frozen=True)
class Peers:
    """Addresses of the system's well-known actors."""

    guardian: Any
    orders: Any
    stores: Any
    riders: Any
    payment: Any
    projector: Any
    notifier: Any
    webhook_sender: Any
    reconciler: Any
    alimtalk_sender: Any = None


@dataclass(frozen=True)
class Start:
    """A singleton's first message: its configuration and its peers."""

    settings: Settings
    """The node's configuration."""
    facts: RuntimeFacts
    """Where the database is, which start of the runtime this is."""
    peers: Peers
    """Whom it talks to."""
    kind: str = ""
    """For registries: which entity kind they route to (order, store, rider)."""
    restarts: int = 0
    """How many times the parent restarted this actor before (the payment gateway)."""


@dataclass(frozen=True)
class Booted:
    """The guardian's answer to Boot."""

    peers: Peers
    """Addresses of the singletons."""
    pid: int
    """Process id of the guardian."""
    sid: int
    """Session id of the guardian (on multiprocTCPBase: the admin daemon's)."""


@dataclass(frozen=True)
class Activate:
    """An entity actor's first message, from its registry."""

    key: str
    """The entity's id."""
    settings: Settings
    """The node's configuration."""
    facts: RuntimeFacts
    """Where the database is, which start of the runtime this is."""
    peers: Peers
    """Whom it talks to."""


@dataclass(frozen=True)
class Finished:
    """An entity tells its registry that nothing more will happen to it: passivate it."""

    key: str
    """The entity's id."""
    messages_in: int = 0
    """Messages it received since it last said, the exit request to come included (so that
    no Retired has to follow)."""


@dataclass(frozen=True)
class Retired:
    """An entity's last word before it stops: how many messages it handled that it has not
    counted in a Finished (none after a Finished and the exit request alone: then it is not sent)."""

    key: str
    """The entity's id."""
    messages_in: int
    """Messages it received in its life, less those counted in its Finished."""


@dataclass(frozen=True)
class Sweep:
    """Guardian: re-drive unfinished work (pending refunds, lagging consumers) now."""


# -- timers: wakeup payloads, dispatched by type like any message ---------------------------------


@dataclass(frozen=True)
class SweepDue:
    """Guardian's timer: time for the periodic sweep."""


@dataclass(frozen=True)
class GatherTimeout:
    """Timer of an actor collecting GetStats answers: stop waiting for the missing ones."""

    gather_id: str
    """Which collection."""


@dataclass(frozen=True)
class RestartGateway:
    """Supervisor's timer: the backoff after a gateway crash is over."""


@dataclass(frozen=True)
class CheckDeadlines:
    """Supervisor's timer: look for provider calls past their deadline."""


@dataclass(frozen=True)
class RetryRefund:
    """Order's timer: try the pending refund again."""


@dataclass(frozen=True)
class RetryCatchUp:
    """Journal consumer's timer: the disk refused our last write; read the journal again."""


@dataclass(frozen=True)
class SendDue:
    """Webhook sender's timer: send the messages whose retry has fallen due."""


# -- journal consumers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Committed:
    """Order -> projector: events up to `seq` are in the journal; reply once they are projected."""

    order_id: str
    """The order that changed."""
    seq: int
    """Global sequence of its last event."""
    view: dict[str, Any] | None = None
    """The order view after the command, to send back."""
    corr: str = ""
    """Correlation id of the request to answer; empty: nobody waits."""
    reply_to: Any = None
    """Requester's address."""
    group: int = 0
    """The journal's group commit that holds the events (0: committed already, not grouped)."""


@dataclass(frozen=True)
class FlushGroup:
    """Pump -> projector (simpleSystemBase): every actor has had its turn; commit the open group
    and answer the commands it holds. One commit, one fsync, for all of a turn's commands."""


@dataclass(frozen=True)
class Nudge:
    """The journal has grown to `seq`; catch up."""

    seq: int
    """The journal's head as the sender knows it."""
    store_id: str = ""
    """For stores: whose inbox."""
    records: tuple[Any, ...] = ()
    """The journal's records after `since` up to `seq` in order, when the sender read them
    (the projector to the notifier): no need to read them again."""
    since: int = -1
    """The position `records` follow."""


@dataclass(frozen=True)
class Leases:
    """What this node holds of the cluster's leases now (consumers of the others stay idle)."""

    held: tuple[str, ...]
    """The leases held (see delivery/cluster/leases.py), sorted."""


# -- orders ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResumeRefund:
    """Wake an order so it re-drives its pending refund."""

    order_id: str
    """Order with a pending refund."""


# -- payment -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Charge:
    """Order -> gateway: charge the customer; the order id is the idempotency key."""

    order_id: str
    """Order being paid; a second charge of the same order returns the first."""
    amount: int
    """Amount in won."""
    method: str
    """Payment method."""
    card_token: str
    """Tokenised card."""


@dataclass(frozen=True)
class ChargeApproved:
    """Gateway -> order: the charge went through."""

    order_id: str
    payment_id: str
    amount: int
    method: str
    approved_at: str = ""
    """The provider's time of approval ('' when it gives none)."""
    provider_method: str = ""
    """The provider's name of the means of payment ('' when it gives none)."""


@dataclass(frozen=True)
class ChargeDeclined:
    """Gateway -> order: the provider declined the card."""

    order_id: str
    reason: str


@dataclass(frozen=True)
class Refund:
    """Order -> gateway: give the money back; at most once per order."""

    order_id: str
    payment_id: str
    amount: int
    reason: str = ""
    """Why (the order's cancel or reject reason); providers that take one pass it on."""


@dataclass(frozen=True)
class RefundApproved:
    """Gateway -> order: the refund went through."""

    order_id: str
    refund_id: str
    amount: int


@dataclass(frozen=True)
class PaymentUnavailable:
    """Gateway or supervisor -> order: the provider cannot be reached now; try later."""

    order_id: str
    retry_after_s: float
    reason: str


@dataclass(frozen=True)
class ProviderCall:
    """Supervisor -> gateway: make one call to the provider."""

    call_id: int
    """The supervisor's number for the call."""
    request: Charge | Refund
    """What to ask the provider."""
    delay_ms: int = 0
    """Injected fault: extra latency before the provider answers."""
    fail_rate: float = 0.0
    """Injected fault: probability that the provider fails."""


@dataclass(frozen=True)
class CallDone:
    """Gateway -> supervisor: how a provider call ended."""

    call_id: int
    """The supervisor's number for the call."""
    answer: ChargeApproved | ChargeDeclined | RefundApproved | PaymentUnavailable | None
    """What to tell the order; None when the call failed (a PaymentUnavailable: the provider
    answered "not yet", which is no failure of the provider)."""
    elapsed_s: float
    """How long the provider took."""
    error: str = ""
    """Why it failed, when it failed."""


@dataclass(frozen=True)
class CrashGateway:
    """Supervisor -> gateway: die at the next message (fault injection)."""


@dataclass(frozen=True)
class InjectFault:
    """Admin -> supervisor or store registry: inject or clear a fault (POST /admin/api/faults)."""

    target: str
    """"payment", "store" or "all"."""
    kind: str
    """payment: crash, slow, fail; store: down, up, crash; all: clear."""
    delay_ms: int = 0
    """For slow: the provider's added latency."""
    rate: float = 0.0
    """For fail: the probability that a provider call fails."""
    store_id: str = ""
    """For store faults: which store."""


@dataclass(frozen=True)
class GetFaults:
    """Ask the supervisor or the store registry which faults are in force."""


@dataclass(frozen=True)
class CrashEntity:
    """Registry -> entity: fail on every message from now on (fault injection)."""


@dataclass(frozen=True)
class GetPaymentStatus:
    """Ask the supervisor for the circuit and the gateway's state."""


@dataclass(frozen=True)
class WebhookResult:
    """How one attempt to send a webhook message ended."""

    notice_id: str
    """The notice sent."""
    attempts: int
    """Attempts before this one."""
    error: str = ""
    """Why it failed; empty when the receiver took it."""
    outcome: str = ""
    """AlimTalk: accepted, or failed (refused for good); empty for the webhook."""
    reference: str = ""
    """AlimTalk: the message's '<requestId>/<recipientSeq>' once accepted."""


@dataclass(frozen=True)
class PollResults:
    """AlimTalk sender -> itself: time to ask NHN for the results of accepted messages."""


@dataclass(frozen=True)
class ResultsPolled:
    """The delivery results read from NHN: (notice id, outcome, detail, accepted at)."""

    results: tuple[tuple[str, str, str, str], ...]


@dataclass(frozen=True)
class Bookings:
    """The provider's listing of charges after a position (empty when it has none, or no
    listing at all)."""

    charges: tuple[Booking, ...]
    """Oldest first."""


# -- introspection --------------------------------------------------------------------------------


@dataclass(frozen=True)
class GetStats:
    """Ask an actor (and the actors under it) to describe themselves."""

    gather_id: str = ""
    """Set by a parent collecting its children's answers."""


@dataclass(frozen=True)
class ActorInfo:
    """One actor as the admin console shows it."""

    address: str
    kind: str
    key: str
    parent: str
    pid: int
    started_at: str
    restarts: int
    messages_in: int
    state: str
    rss_kib: int = 0
    """Resident memory of the actor's process (shared by all actors on simpleSystemBase)."""


@dataclass(frozen=True)
class ActorStats:
    """Answer to GetStats."""

    gather_id: str
    """Echo of the request's gather id."""
    actors: tuple[ActorInfo, ...]
    """This actor and those under it."""
    retired_messages: int = 0
    """Messages handled by entity actors that have since stopped."""
    live: dict[str, int] = field(default_factory=dict)
    """Live entity actors by kind."""


# Envelope, Peers, Start, Activate, Booted and Committed hold Thespian addresses, and Boot, Start
# and Activate the node's settings, which only the actor transport carries (pickled between
# processes); everything else must survive the msgpack codec.
TRANSPORT_ONLY = (Envelope, Batch, Peers, Boot, Start, Activate, Booted, Committed)

codec.register(
    Reply, Finished, Retired, Sweep, SweepDue, GatherTimeout, RestartGateway, CheckDeadlines,
    RetryRefund, RetryCatchUp, SendDue, Nudge, FlushGroup, Leases, ResumeRefund, Charge, ChargeApproved, ChargeDeclined, Refund, RefundApproved,
    PaymentUnavailable, ProviderCall, CallDone, CrashGateway, InjectFault, CrashEntity,
    GetFaults, GetPaymentStatus, WebhookResult, PollResults, ResultsPolled, Bookings, Booking,
    GetStats, ActorInfo, ActorStats,
)
