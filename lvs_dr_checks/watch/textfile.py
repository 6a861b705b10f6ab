"""The watcher's counters and each VIP's owner for Prometheus, in the node exporter's
textfile-collector format (--textfile DIR/lvs_dr_watch.prom), replaced at once on every
report: labels carry the VIPs and MACs, metric names never do."""

import collections

from lvs_dr_checks.watch import statefile
from lvs_dr_checks.watch.timeline import THIS_HOST, foreign_claims

HELP = {
    "lvs_dr_watch_last_report_timestamp_seconds": ("gauge", "when the watcher last decided"),
    "lvs_dr_watch_owner_info": ("gauge", "the VIP's owner now (1), by MAC"),
    "lvs_dr_watch_foreign_claim_active": ("gauge", "a MAC that may not own the VIP claims it "
                                                   "now"),
    "lvs_dr_watch_silent": ("gauge", "no owner answers for the VIP"),
    "lvs_dr_watch_split_brain": ("gauge", "two owners at once now"),
    "lvs_dr_watch_foreign_claims_total": ("counter", "foreign claims started, by VIP and MAC"),
    "lvs_dr_watch_split_brains_total": ("counter", "split brains started"),
    "lvs_dr_watch_owner_changes_total": ("counter", "owner changes (failovers)"),
    "lvs_dr_watch_router_stale_total": ("counter", "routers found at the old owner after a "
                                                   "failover"),
    "lvs_dr_watch_results_dropped_total": ("counter", "results a sink dropped (queue full)"),
}


def _labels(**labels):
    return "{" + ",".join('{}="{}"'.format(key, str(value).replace("\\", "\\\\")
                                            .replace('"', '\\"').replace("\n", "\\n"))
                          for key, value in sorted(labels.items())) + "}"


def render(snapshot):
    """The metrics of a snapshot (verdict.py's), as text."""
    samples = collections.defaultdict(list)
    samples["lvs_dr_watch_last_report_timestamp_seconds"].append(("", snapshot["written"]))
    timeline = snapshot["timeline"]
    counts = collections.Counter((e["vip"], e["event"]) for e in timeline["events"])
    for vip, state in sorted(timeline["vips"].items()):
        owner = snapshot["mac"] if state["owner"] == THIS_HOST else state["owner"]
        if owner:
            samples["lvs_dr_watch_owner_info"].append((_labels(vip=vip, mac=owner), 1))
        for claim in sorted(foreign_claims(state), key=lambda c: c["mac"]):
            samples["lvs_dr_watch_foreign_claim_active"].append(
                (_labels(vip=vip, mac=claim["mac"]), 1))
        samples["lvs_dr_watch_silent"].append((_labels(vip=vip), int(state["silent"])))
        samples["lvs_dr_watch_split_brain"].append((_labels(vip=vip), int(bool(state["split"]))))
        for kind, name in (("split-start", "split_brains"), ("owner-change", "owner_changes"),
                           ("router-stale", "router_stale")):
            samples["lvs_dr_watch_{}_total".format(name)].append((_labels(vip=vip),
                                                                  counts[vip, kind]))
    claims = collections.Counter((e["vip"], e["mac"]) for e in timeline["events"]
                                 if e["event"] == "foreign-start")
    for (vip, mac), count in sorted(claims.items()):
        samples["lvs_dr_watch_foreign_claims_total"].append((_labels(vip=vip, mac=mac), count))
    for sink in snapshot.get("delivery", []):
        samples["lvs_dr_watch_results_dropped_total"].append((_labels(sink=sink["sink"]),
                                                              sink["dropped"]))
    lines = []
    for name, (kind, text) in HELP.items():
        if samples[name]:
            lines += ["# HELP {} {}".format(name, text), "# TYPE {} {}".format(name, kind)]
            lines += ["{}{} {}".format(name, labels, value) for labels, value in samples[name]]
    return "\n".join(lines) + "\n"


def write(path, snapshot):
    statefile.replace(path, render(snapshot))
