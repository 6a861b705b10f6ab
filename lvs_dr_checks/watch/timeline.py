"""What the wire said about each VIP over time, as a list of events.

The watcher's loop feeds it the packets heard naming a VIP (answers to its probes, and
claims: gratuitous ARP, announcements, requests sent from the VIP), the VIPs this host
holds, and each probe round once its answers are in. It keeps the claims active now and an
append-only list of events, one per change of state, so that a flapping claim is one event
per change and an A -> B -> A change of owner is two:

- ``foreign-start`` / ``foreign-end``: a MAC that may not own the VIP claims it, from the
  first packet heard (at once: a foreign claim is never right) to the last one before a
  probe round it did not answer;
- ``split-start`` / ``split-end``: two allowed owners answered the same round (this host
  counts as an owner while it holds the VIP), or one allowed MAC answered one ARP probe
  twice (a VRRP virtual MAC on both directors), or two routers advertised the VIP's VRID
  as master at once (the evidence is listed: owners, and "VRRP <sender> and <sender>");
- ``owner-change``: the one owner of a round is not the last round's (a failover);
- ``silent-start`` / ``silent-end``: no owner answered two rounds in a row over at least
  SILENT_SECONDS (a VRRP failover's gap is shorter), then one did;
- ``router-stale`` / ``router-fresh``: after an owner change, the router's own neighbour
  entry for the VIP still names the old owner (read by the watcher, watch/follow.py), then
  no longer does.

Times are wall-clock seconds (time.time()): events outlive the process (the state file)
and are shown as times of day.
"""

import collections
from collections.abc import Iterable, Mapping
from typing import Any, Optional

THIS_HOST = "this host"
# Rounds without any owner, and seconds since the first of them, before a VIP is called
# silent: one lost answer is no outage, nor the gap of a failover (keepalived's backup takes
# over 3 advertisement intervals and a skew after the master fell silent).
SILENT_ROUNDS = 2
SILENT_SECONDS = 5.0
# Events kept (the oldest go first): a day of a flapping claim at one event a second.
MAX_EVENTS = 100000

Event = dict  # {"id", "at", "vip", "event", and what the kind needs: mac, macs, first, ...}


def owns(allowed: Iterable[str], mac: str, eth_macs: Iterable[str]) -> bool:
    """May ``mac``, sent from ``eth_macs``, own a VIP that ``allowed`` may own?"""
    allowed = set(allowed)
    return mac in allowed and set(eth_macs) <= allowed


def foreign_claims(state: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The claims of a VIP's saved state (VipState.to_dict) that it may not have."""
    return [claim for claim in state["claims"].values()
            if not owns(state["allowed"], claim["mac"], claim["eth_macs"])]


class Claim(collections.namedtuple("Claim", "mac eth_macs first last count")):
    """A MAC heard for a VIP since ``first``: the Ethernet sources it came from, when it was
    last heard, and how many packets."""


class VipState:
    """One VIP now: who may own it, the claims active, its owner, split brain, silence."""

    def __init__(self, allowed: Iterable[str]):
        self.allowed = frozenset(allowed)
        self.claims: dict[str, Claim] = {}
        self.owner: Optional[str] = None
        self.split: list[str] = []
        self.silent = False
        self.silent_rounds = 0
        self.silent_from: Optional[float] = None  # the first round no owner answered
        self.replies: collections.Counter = collections.Counter()  # this round's answers
        self.router_stale: Optional[dict[str, Any]] = None  # before, after, since

    def is_allowed(self, claim: Claim) -> bool:
        return owns(self.allowed, claim.mac, claim.eth_macs)

    def foreign(self) -> list[Claim]:
        return [c for c in self.claims.values() if not self.is_allowed(c)]

    def to_dict(self) -> dict[str, Any]:
        return {"allowed": sorted(self.allowed), "owner": self.owner, "split": self.split,
                "silent": self.silent, "silent_rounds": self.silent_rounds,
                "router_stale": self.router_stale, "silent_from": self.silent_from,
                "claims": {mac: dict(c._asdict(), eth_macs=sorted(c.eth_macs))
                           for mac, c in self.claims.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "VipState":
        state = cls(data["allowed"])
        state.owner, state.split = data["owner"], list(data["split"])
        state.silent, state.silent_rounds = data["silent"], data["silent_rounds"]
        state.router_stale, state.silent_from = data["router_stale"], data["silent_from"]
        state.claims = {mac: Claim(c["mac"], frozenset(c["eth_macs"]), c["first"], c["last"],
                                   c["count"]) for mac, c in data["claims"].items()}
        return state


class Timeline:
    """Every VIP's state and the events so far; ``next_id`` numbers the next event, so
    that a sink can say which it has delivered, across restarts."""

    def __init__(self, allowed: Mapping[str, Iterable[str]]):
        self.vips = {vip: VipState(macs) for vip, macs in allowed.items()}
        self.held: frozenset[str] = frozenset()
        self.events: list[Event] = []
        self.next_id = 1

    def _event(self, at: float, vip: str, kind: str, **details: Any) -> Event:
        event = dict(id=self.next_id, at=at, vip=vip, event=kind, **details)
        self.next_id += 1
        self.events.append(event)
        del self.events[:-MAX_EVENTS]
        return event

    def reconfigure(self, allowed: Mapping[str, Iterable[str]]) -> None:
        """New VIPs and owners (a reload): VIPs kept keep their state and history; a claim
        judged by the new owners from its next packet on."""
        self.vips = {vip: self.vips[vip] if vip in self.vips else VipState(macs)
                     for vip, macs in allowed.items()}
        for vip, macs in allowed.items():
            self.vips[vip].allowed = frozenset(macs)

    def holding(self, held: Iterable[str]) -> None:
        """The VIPs this host holds now (it never hears itself answer)."""
        self.held = frozenset(held)

    def heard(self, vip: str, mac: str, eth_mac: str, at: float,
              reply: bool = False) -> list[Event]:
        """A packet naming ``vip`` as ``mac``'s (ARP sender, or an advertisement's target
        link-layer address), sent from ``eth_mac``; ``reply``: an answer to our probe."""
        state = self.vips.get(vip)
        if state is None:
            return []
        state.replies[mac] += reply
        known = state.claims.get(mac)
        if known is None:
            claim = Claim(mac, frozenset({eth_mac}), at, at, 1)
        else:
            claim = known._replace(eth_macs=known.eth_macs | {eth_mac}, last=at,
                                   count=known.count + 1)
        state.claims[mac] = claim
        newly_foreign = not state.is_allowed(claim) and (known is None or
                                                         state.is_allowed(known))
        if newly_foreign:
            return [self._event(at, vip, "foreign-start", mac=mac,
                                eth_macs=sorted(claim.eth_macs))]
        return []

    def round_closed(self, vip: str, sent_at: float, at: float,
                     vrrp: Iterable[str] = ()) -> list[Event]:
        """A probe of ``vip`` went out at ``sent_at`` and its answers are in at ``at``: claims
        last heard before it are over; the owners that answered it decide split brain, the
        owner and silence; ``vrrp``: the routers heard advertising the VIP's VRID as master
        at once meanwhile. (A round in which nothing at all answered, not even a witness,
        tells nothing: the watcher does not close it.)"""
        state = self.vips.get(vip)
        if state is None:
            return []
        replies, state.replies = state.replies, collections.Counter()
        found = []
        for mac, claim in sorted(state.claims.items()):
            if claim.last < sent_at:
                del state.claims[mac]
                if not state.is_allowed(claim):
                    found.append(self._event(at, vip, "foreign-end", mac=mac,
                                             first=claim.first, last=claim.last,
                                             count=claim.count))
        owners = ([THIS_HOST] if vip in self.held else []) + sorted(
            c.mac for c in state.claims.values() if state.is_allowed(c))
        doubled = ":" not in vip and any(replies[mac] > 1 for mac in owners)
        masters = sorted(vrrp)
        evidence = owners + (["VRRP " + " and ".join(masters)] if len(masters) >= 2 else [])
        split = len(owners) >= 2 or doubled or len(masters) >= 2
        if split and not state.split:
            found.append(self._event(at, vip, "split-start", macs=evidence))
        elif not split and state.split:
            found.append(self._event(at, vip, "split-end", macs=state.split))
        state.split = evidence if split else []
        if len(owners) == 1 and not split and owners[0] != state.owner:
            if state.owner is not None:
                found.append(self._event(at, vip, "owner-change", before=state.owner,
                                         after=owners[0]))
            state.owner = owners[0]
        state.silent_rounds = 0 if owners else state.silent_rounds + 1
        state.silent_from = None if owners else state.silent_from or sent_at
        if state.silent_rounds >= SILENT_ROUNDS and not state.silent and \
                at - state.silent_from >= SILENT_SECONDS:
            state.silent = True
            found.append(self._event(at, vip, "silent-start", since=state.silent_from))
        elif owners and state.silent:
            state.silent = False
            found.append(self._event(at, vip, "silent-end"))
        return found

    def router_read(self, vip: str, before: str, after: str, seen: str,
                    at: float) -> list[Event]:
        """The router's entry for ``vip`` read after ``before`` handed it to ``after``:
        ``seen`` the MAC it names ('' for none). The old owner's MAC there is stale."""
        state = self.vips.get(vip)
        if state is None:
            return []
        if seen == before and state.router_stale is None:
            state.router_stale = {"before": before, "after": after, "since": at}
            return [self._event(at, vip, "router-stale", before=before, after=after)]
        if seen != before and state.router_stale is not None:
            stale, state.router_stale = state.router_stale, None
            return [self._event(at, vip, "router-fresh", before=stale["before"],
                                after=stale["after"], since=stale["since"], seen=seen)]
        return []

    def to_dict(self) -> dict[str, Any]:
        return {"vips": {vip: state.to_dict() for vip, state in self.vips.items()},
                "held": sorted(self.held), "events": self.events, "next_id": self.next_id}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Timeline":
        timeline = cls({})
        timeline.vips = {vip: VipState.from_dict(state) for vip, state in data["vips"].items()}
        timeline.held = frozenset(data["held"])
        timeline.events = list(data["events"])
        timeline.next_id = data["next_id"]
        return timeline
