"""The watcher's verdict, decided once: what lvs-dr-watch pushes to Icinga and what
check_vip_arp_watch prints from its state file are the same Check over the same snapshot.

A foreign claim or a split brain is CRITICAL while it lasts and until it is older than the
window (default 15 minutes), so that a claim of a few seconds stays on the screen long enough
to be seen; silence (no owner answers) is CRITICAL while it lasts; a snapshot older than its
bound (a dead or stuck watcher) is UNKNOWN.

Snapshot: the state file's dictionary (watch/statefile.py): ``timeline`` (Timeline.to_dict),
``iface``, ``mac``, ``labels`` (MAC -> how the suite names it), ``started``, ``written``,
``heartbeat`` (seconds between two writes), ``delivery`` (the sinks' counters).
"""

import collections
import time

import nagiosplugin
from nagiosplugin.state import Critical, Ok, Unknown

from lvs_dr_checks.summary import ItemSummary, plural
from lvs_dr_checks.watch.timeline import THIS_HOST, foreign_claims

NAME = "VIP_ARP_WATCH"
DEFAULT_WINDOW = 900.0


def clock(at):
    """A time of day as the journal shows it."""
    return time.strftime("%H:%M:%S", time.localtime(at))


def owned_by(evidence, describe):
    """A split brain's evidence (timeline.py): two owners at once, one MAC that answered one
    probe twice (two hosts behind it), two VRRP masters at once."""
    owners = [item for item in evidence if not item.startswith("VRRP ")]
    masters = ["VRRP advertisements from {} at once".format(item[len("VRRP "):])
               for item in evidence if item.startswith("VRRP ")]
    if len(owners) == 1 and not masters:
        return "two hosts behind {} (one probe answered twice)".format(describe(owners[0]))
    return "; ".join(([" and ".join(map(describe, owners))] if owners else []) + masters)


def span(seconds):
    return "{:.1f} s".format(max(seconds, 0.0))


def minutes(seconds):
    return "{:g} min".format(seconds / 60) if seconds >= 60 else "{:g} s".format(seconds)


class VipView(collections.namedtuple("VipView", "vip owner foreign claimed split splits "
                                                "silent_since takeover router window")):
    """One VIP as the window shows it: the owner now; ``foreign``: claims active now
    (mac, first, last, times); ``claimed``: the last ended foreign claim in the window (mac,
    first, last, times) or None; ``split``: the owners at once now (and since when), or
    None; ``splits``: the last ended split brain (macs, start, end, times) or None;
    ``silent_since``; ``takeover``: the last owner change in the window (before, at);
    ``router``: the router's entry stale now (before, after, since, None) or the last
    stale episode in the window (before, after, since, until), or None."""


def _views(snapshot, now, window):
    timeline = snapshot["timeline"]
    since = now - window
    every = collections.defaultdict(list)  # VIP -> its events, oldest first
    for event in timeline["events"]:
        every[event["vip"]].append(event)
    for vip, state in timeline["vips"].items():
        mine = [e for e in every[vip] if e["at"] >= since]

        def kind(name, events=mine):
            return [e for e in events if e["event"] == name]
        starts = collections.Counter(e["mac"] for e in kind("foreign-start"))
        foreign = sorted((c["mac"], c["first"], c["last"], max(starts[c["mac"]], 1))
                         for c in foreign_claims(state))
        ended = kind("foreign-end")
        claimed = (ended[-1]["mac"], ended[-1]["first"], ended[-1]["last"],
                   max(starts[ended[-1]["mac"]], 1)) if ended else None
        began = kind("split-start", every[vip])
        split = (state["split"], began[-1]["at"] if began else now) if state["split"] else None
        split_ends = kind("split-end")
        splits = None
        if split_ends:
            end = split_ends[-1]
            opened = [e["at"] for e in began if e["at"] <= end["at"]]
            splits = (end["macs"], opened[-1] if opened else end["at"], end["at"],
                      max(len(kind("split-start")), 1))
        silent = kind("silent-start", every[vip])
        changes = kind("owner-change")
        fresh = kind("router-fresh")
        stale = state.get("router_stale")
        router = (stale["before"], stale["after"], stale["since"], None) if stale else \
            (fresh[-1]["before"], fresh[-1]["after"], fresh[-1]["since"], fresh[-1]["at"]) \
            if fresh else None
        yield VipView(vip, state["owner"], foreign, claimed, split, splits,
                      (silent[-1]["since"] if silent else now) if state["silent"] else None,
                      (changes[-1]["before"], changes[-1]["at"]) if changes else None, router,
                      window)


class WatchView(nagiosplugin.Resource):
    """The snapshot seen at ``now`` through a window of ``window`` seconds; ``max_age``: the
    oldest snapshot that still tells the present (None: it is the present, the watcher's
    own)."""

    name = NAME

    def __init__(self, snapshot, now, window=DEFAULT_WINDOW, max_age=None):
        self.snapshot = snapshot
        self.now = now
        self.window = window
        self.max_age = max_age
        self.labels = snapshot.get("labels", {})

    def probe(self):
        if self.max_age is not None:
            yield nagiosplugin.Metric("age", round(self.now - self.snapshot["written"], 1), "s",
                                      min=0, context="age")
        views = list(_views(self.snapshot, self.now, self.window))
        for view in views:
            yield nagiosplugin.Metric(view.vip, view, context="vip_watch")
        events = [e for e in self.snapshot["timeline"]["events"]
                  if e["at"] >= self.now - self.window]
        kinds = collections.Counter(e["event"] for e in events)
        ongoing_foreign = sum(1 for v in views for f in v.foreign if f[1] < self.now - self.window)
        ongoing_split = sum(1 for v in views if v.split and v.split[1] < self.now - self.window)
        yield nagiosplugin.Metric("vips", len(views), min=0, context="count")
        yield nagiosplugin.Metric("foreign_claims", kinds["foreign-start"] + ongoing_foreign,
                                  min=0, context="foreign_claims")
        yield nagiosplugin.Metric("split_brains", kinds["split-start"] + ongoing_split, min=0,
                                  context="split_brains")
        yield nagiosplugin.Metric("silent_vips", sum(v.silent_since is not None for v in views),
                                  min=0, max=len(views), context="silent_vips")
        yield nagiosplugin.Metric("owner_changes", kinds["owner-change"], min=0,
                                  context="count")
        ongoing_stale = sum(1 for v in views if v.router and v.router[3] is None and
                            v.router[2] < self.now - self.window)
        yield nagiosplugin.Metric("stale_router", kinds["router-stale"] + ongoing_stale, min=0,
                                  context="stale_router")

    def describe(self, mac):
        if mac == THIS_HOST:
            return "this host ({})".format(self.snapshot.get("mac"))
        label = self.labels.get(mac)
        return "{} ({})".format(mac, label) if label else mac


class VipContext(nagiosplugin.Context):
    """One VIP: a foreign claim or a split brain in the window, or silence now, is CRITICAL;
    one allowed owner is OK."""

    def __init__(self):
        super().__init__("vip_watch")

    def evaluate(self, metric, resource):
        view, describe = metric.value, resource.describe
        within = "in the last {}".format(minutes(view.window))
        if view.foreign:
            mac, first, last, times = view.foreign[-1]
            return self.result_cls(Critical, "{} claims VIP {} since {} ({}), {} {}".format(
                describe(mac), view.vip, clock(first), span(last - first),
                plural(times, "time"), within), metric)
        if view.split:
            owners, since = view.split
            return self.result_cls(Critical, "split brain: VIP {} owned by {} since {}".format(
                view.vip, owned_by(owners, describe), clock(since)), metric)
        if view.claimed:
            mac, first, last, times = view.claimed
            return self.result_cls(Critical, "{} claimed VIP {} for {} at {}, {} {}".format(
                describe(mac), view.vip, span(last - first), clock(first),
                plural(times, "time"), within), metric)
        if view.splits:
            owners, start, end, times = view.splits
            return self.result_cls(Critical, "split brain: VIP {} owned by {} for {} at {}, {} "
                                             "{}".format(view.vip, owned_by(owners, describe),
                                                         span(end - start), clock(start),
                                                         plural(times, "time"), within), metric)
        if view.router:
            before, after, since, until = view.router
            router = self.router_name(resource)
            if until is None:
                return self.result_cls(Critical, "{} still sends VIP {} to {} since {} ({}), "
                                                 "not to {} that took it over: the gratuitous "
                                                 "ARP did not reach it".format(
                                                     router, view.vip, describe(before),
                                                     clock(since), span(resource.now - since),
                                                     describe(after)), metric)
            return self.result_cls(Critical, "{} sent VIP {} to the old owner {} for {} at {}, "
                                             "after {} took it over, {}".format(
                                                 router, view.vip, describe(before),
                                                 span(until - since), clock(since),
                                                 describe(after), within), metric)
        if view.silent_since is not None:
            return self.result_cls(Critical, "nothing answers for VIP {} since {}".format(
                view.vip, clock(view.silent_since)), metric)
        if view.owner is None:
            return self.result_cls(Ok, "VIP {}: no probe round closed yet".format(view.vip),
                                   metric)
        text = "VIP {} owned by {}".format(view.vip, describe(view.owner))
        if view.takeover:
            text += " (taken over from {} at {})".format(describe(view.takeover[0]),
                                                         clock(view.takeover[1]))
        return self.result_cls(Ok, text, metric)

    @staticmethod
    def router_name(resource):
        """The router as the watcher read it; a history kept from a watcher that read one,
        restarted without -H, names none."""
        router = resource.snapshot.get("router")
        return "router " + router if router else "the router"


class AgeContext(nagiosplugin.Context):
    """A snapshot older than its bound tells nothing of now: UNKNOWN, naming the fix."""

    def __init__(self):
        super().__init__("age")

    def evaluate(self, metric, resource):
        if metric.value > resource.max_age:
            return self.result_cls(Unknown, "lvs-dr-watch last wrote its state {} ago (at {}; "
                                            "at most {} expected): is it running? (systemctl "
                                            "status lvs-dr-watch)".format(
                                                span(metric.value), clock(resource.snapshot["written"]),
                                                span(resource.max_age)), metric)
        return self.result_cls(Ok, "state written {} ago".format(span(metric.value)), metric)

    def performance(self, metric, resource):
        return nagiosplugin.Performance("age", metric.value, "s", min=0)


class WatchSummary(ItemSummary):
    context = "vip_watch"
    noun = "VIP"

    def __init__(self, resource):
        self.resource = resource

    def ok(self, results):
        snapshot = self.resource.snapshot
        return "{} watched on {} since {}: each owned by one allowed owner; no foreign claim " \
               "or split brain in the last {}".format(
                   plural(len(self.items(results)), "VIP"), snapshot["iface"],
                   clock(snapshot["started"]), minutes(self.resource.window))

    def problem(self, results):
        if "age" in results and results["age"].state == Unknown:
            return str(results["age"])
        return super().problem(results)


def build(snapshot, now, window=DEFAULT_WINDOW, max_age=None):
    """The Check of a snapshot at ``now``."""
    resource = WatchView(snapshot, now, window, max_age)
    return nagiosplugin.Check(
        resource, VipContext(), AgeContext(), nagiosplugin.ScalarContext("count"),
        nagiosplugin.ScalarContext("foreign_claims", critical="0"),
        nagiosplugin.ScalarContext("split_brains", critical="0"),
        nagiosplugin.ScalarContext("silent_vips", critical="0"),
        nagiosplugin.ScalarContext("stale_router", critical="0"),
        WatchSummary(resource))
