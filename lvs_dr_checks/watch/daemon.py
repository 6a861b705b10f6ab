"""lvs-dr-watch: watch the VIPs' segment all the time, for the claims that last seconds.

A check is a snapshot: a real server that answers ARP for a VIP for five seconds, a backup
director that promotes itself between two polls, are gone by the next one. lvs-dr-watch
runs on a director (or any host on the segment) with the probe's knowledge (the VIPs and
who may own each: --vip, --from-keepalived, --from-ipvs, --allow-mac, --expect-mac), hears
every ARP packet and neighbour advertisement that names a VIP through one packet socket with
the probe's kernel-side filter, and probes every VIP and witness every --interval seconds
within the host-wide pacing. Each VIP gets a timeline: foreign claims (first and last
packet, count), split brains, owner changes, silence.

Its verdict is check_vip_arp_watch's, in the suite's words: CRITICAL from the first packet
of a foreign claim (pushed within a second) until the claim is older than --window. It
goes to Icinga 2's API (process-check-result, TLS with the CA verified, with a ttl so that
a dead watcher turns the service UNKNOWN), or to the external command file, on every change
and every --heartbeat seconds; queued and retried while the receiver is down. The state
file (under --state-dir, written atomically) keeps the history across restarts and is what
check_vip_arp_watch reads over NRPE or an agent.

SIGHUP (systemctl reload) re-reads the VIPs and owners; so does a change of the
keepalived.conf it was given. Readiness and watchdog go to systemd (NOTIFY_SOCKET). Needs
CAP_NET_RAW, nothing else (the shipped unit: an unprivileged dynamic user with that ambient
capability). One line per event on stderr (the journal).

Examples:
  on each director:  lvs-dr-watch --from-keepalived --allow-mac PEER_MAC
                       --icinga-url https://icinga-master:5665
                       --icinga-service director1!lvs-dr-watch
                       --icinga-user lvs-dr-watch
                       --icinga-password-file /etc/lvs-dr-watch/icinga-password
                       --icinga-ca /etc/lvs-dr-watch/icinga-ca.crt
  read by NRPE:      check_vip_arp_watch --from-watch
"""

import logging
import os
import select
import signal
import socket
import sys
import time

from lvs_dr_checks import cli, options
from lvs_dr_checks.errors import LOGGER, PluginError, logger
from lvs_dr_checks.host import ipvs, keepalived, links
from lvs_dr_checks.host import segment as host_segment
from lvs_dr_checks.kernel import address_text
from lvs_dr_checks.source.local import Source
from lvs_dr_checks.source.localfiles import MAX_PASSWORD_BYTES, read_local_file
from lvs_dr_checks.source.ssh.config import valid_host
from lvs_dr_checks.watch import follow, sinks, statefile, textfile, verdict
from lvs_dr_checks.watch.timeline import THIS_HOST, Timeline
from lvs_dr_checks.wire import arp
from lvs_dr_checks.wire.channels import MAX_BATCH, Pacer, bind_socket, open_socket

PROG = "lvs-dr-watch"
# VRRP advertisements judged at a round's close: those of the last round, and at least of
# this many seconds (three of keepalived's default advertisement intervals), so that two
# masters advertising once a second are heard at once however short the rounds.
VRRP_HORIZON = 3.0
# The password as the shipped unit hands it over (LoadCredential=icinga-password:...).
CREDENTIAL = os.path.join(os.environ["CREDENTIALS_DIRECTORY"], "icinga-password") \
    if os.environ.get("CREDENTIALS_DIRECTORY") else None
log = logger("watch")


def build_parser():
    parser = cli.make_parser(PROG, __doc__, max_timeout=None)
    options.add_vips(parser, "a VIP to watch")
    options.add_interface(parser, "watch on this interface (default: as check_vip_arp_owner "
                                  "chooses it)")
    options.add_owners(parser, "the same as --allow-mac, for the owners a third host expects")
    parser.add_argument("--witness", action="append", type=cli.comma_list, default=[],
                        metavar="ADDRESS", help="an address on the segment that must answer "
                                                "(repeatable): a round nothing answered tells "
                                                "nothing")
    parser.add_argument("--interval", type=cli.seconds_up_to(3600), default=10.0,
                        metavar="SECONDS", help="probe every VIP and witness this often "
                                                "(default %(default)g)")
    parser.add_argument("--wait", type=cli.seconds_up_to(60), default=1.0, metavar="SECONDS",
                        help="a round's answers are in this long after its probe (default "
                             "%(default)g)")
    parser.add_argument("--window", type=cli.seconds_up_to(86400), default=verdict.DEFAULT_WINDOW,
                        metavar="SECONDS", help="a foreign claim or split brain stays CRITICAL "
                                                "this long after it ended (default %(default)g)")
    parser.add_argument("--heartbeat", type=cli.seconds_up_to(3600), default=30.0,
                        metavar="SECONDS", help="push the verdict and write the state this "
                                                "often, whatever happens (default %(default)g)")
    parser.add_argument("--state-dir", metavar="DIR",
                        default=os.environ.get("STATE_DIRECTORY", statefile.DEFAULT_DIRECTORY),
                        help="keep the state here (default: $STATE_DIRECTORY, else %(default)s)")
    _add_sinks(parser)
    return parser


def _add_sinks(parser):
    """Where the results go, and the router the watcher reads after a failover."""
    parser.add_argument("--icinga-url", metavar="URL",
                        help="push results to this Icinga 2 API (https://HOST:5665)")
    parser.add_argument("--icinga-service", metavar="HOST!SERVICE",
                        help="the passive service the results are for")
    parser.add_argument("--icinga-user", metavar="USER", help="the API user")
    parser.add_argument("--icinga-password-file", metavar="FILE", default=CREDENTIAL,
                        help="the API user's password, from a file only its owner reads "
                             "(default: systemd's credential icinga-password, if given)")
    parser.add_argument("--icinga-ca", metavar="FILE",
                        help="the CA that signed the API's certificate (verified)")
    parser.add_argument("--icinga-name", metavar="NAME",
                        help="the name in the API's certificate (default: the URL's host)")
    parser.add_argument("--ttl", type=cli.seconds_up_to(86400), metavar="SECONDS",
                        help="each result holds this long in Icinga; then its own check "
                             "command runs (default: 3 heartbeats)")
    parser.add_argument("-H", "--host", type=valid_host, metavar="HOST",
                        help="the router in front of the VIPs: after each owner change, read "
                             "its neighbour entry for the VIP over SNMP (as check_vip_arp_cache "
                             "does) and report it if it still names the old owner")
    options.add_snmp(parser)
    parser.add_argument("--router-grace", type=cli.seconds_up_to(600), default=5.0,
                        metavar="SECONDS", help="read the router this long after an owner "
                                                "change, and as often while it is stale "
                                                "(default %(default)g)")
    parser.add_argument("--textfile", metavar="PATH",
                        help="also write counters and each VIP's owner here for Prometheus "
                             "(the node exporter's textfile collector: DIR/lvs_dr_watch.prom)")
    parser.add_argument("--command-file", metavar="PATH",
                        help="write PROCESS_SERVICE_CHECK_RESULT to this external command "
                             "file instead (Nagios, Icinga's command pipe)")


def split_perfdata(text):
    """(output without perfdata, perfdata items) of a plugin's output."""
    lines = text.rstrip("\n").split("\n")
    status, _, perf = lines[0].partition(" | ")
    items = perf.split()
    kept = [status]
    for line in lines[1:]:
        if line.startswith("| "):
            items += line[2:].split()
        else:
            kept.append(line)
    return "\n".join(kept), items


def notify(message):
    """sd_notify: tell systemd (readiness, watchdog) where it asked to be told."""
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return
    address = "\0" + path[1:] if path.startswith("@") else path
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        try:
            sock.sendto(message.encode(), address)
        except OSError as exc:
            log.warning("cannot notify systemd at %s: %s", path, exc)


class Round:
    """One probe of every target: when its answers are in (monotonic), when each target was
    probed (wall clock), whether anything answered, and what was heard meanwhile."""

    def __init__(self, close_at, sent, reached):
        self.close_at, self.sent, self.reached = close_at, sent, reached
        self.heard = []


class Knowledge:
    """What the command line and the files it names say: VIPs, owners, names, witnesses."""

    def __init__(self, args):
        config = keepalived.from_options(args.from_keepalived, args.from_ipvs,
                                         lambda option, path, reader: reader(Source("/"), path))
        self.vips = links.parse_vips(cli.flatten(args.vip) + config.vips(),
                                     links.OR_FROM_CONFIGURATION)
        self.allowed = options.owners(args, self.vips, config)
        self.roles = ipvs.realserver_roles(config.services)
        self.names = dict(args.name)
        self.given = [links.vip_address(w, "--witness") for w in cli.flatten(args.witness)]
        self.vrids = {address_text(vip): keepalived.vrid_of(config, vip, self.allowed[vip])
                      for vip in self.vips}
        self.vip_names = frozenset(self.vrids)

    def watch(self, witnesses):
        """What each round probes (the addresses' texts) and what is heard: the VIPs and
        ``witnesses``, made once, not for every packet."""
        self.targets = [address_text(t) for t in self.vips + witnesses]
        self.watched = frozenset(self.targets)


class Watcher:
    """The loop: probe rounds, frames heard, rounds closed, results pushed, state written."""

    def __init__(self, args):
        self.args = args
        self.sock = open_socket()  # the privileged part first, as the probe takes it
        if not os.path.isdir(args.state_dir) or not os.access(args.state_dir, os.W_OK):
            raise PluginError("--state-dir {}: not a directory this user may write: create "
                              "it, owned by the user the watcher runs as (the shipped unit: "
                              "StateDirectory=)".format(args.state_dir))
        self.state_path = os.path.join(args.state_dir, statefile.FILE_NAME)
        self.wake_read, self.wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.signals = []
        self.pacer = Pacer()
        self.knowledge = Knowledge(args)
        self.segment = host_segment.locate(Source("/"), self.knowledge.vips, args.interface)
        bind_socket(self.sock, self.segment.iface)
        self.frames = arp.Frames(self.segment.mac)  # each target's probe, made once
        self.witnesses = host_segment.choose_witnesses(
            Source("/"), self.segment, self.knowledge.vips, self.knowledge.roles,
            self.knowledge.given)
        self.knowledge.watch(self.witnesses)
        self.labels = host_segment.labels(Source("/"), self.segment.iface, [],
                                          self.knowledge.roles, self.knowledge.names)
        self.timeline, delivery = self._restore()
        self.adverts = []  # VRRP advertisements heard within VRRP_HORIZON
        self.senders = self._senders(delivery)
        self.started = time.time()
        self.config_mtime = self._config_mtime()
        self.router = None
        if args.host:
            self.router = follow.RouterFollow(follow.snmp_reader(
                args.host, args.snmp_port, args.snmp_community_file, args.snmp_v3_file),
                "{} (SNMP)".format(args.host), args.router_grace, self.wake_write)

    def _restore(self):
        allowed = {str(vip): macs for vip, macs in self.knowledge.allowed.items()}
        try:
            saved = statefile.read(self.state_path)
        except PluginError as exc:
            if os.path.exists(self.state_path):
                log.warning("starting a new history: %s", exc)
            return Timeline(allowed), {}
        timeline = Timeline.from_dict(saved["timeline"])
        timeline.reconfigure(allowed)
        log.warning("history restored from %s: %d events", self.state_path,
                    len(timeline.events))
        return timeline, {d["sink"]: d for d in saved.get("delivery", [])}

    def _senders(self, delivery):
        args, found = self.args, []
        if args.icinga_url:
            missing = [name for name, value in (
                ("--icinga-service", args.icinga_service), ("--icinga-user", args.icinga_user),
                ("--icinga-password-file", args.icinga_password_file),
                ("--icinga-ca", args.icinga_ca)) if not value]
            if missing:
                raise PluginError("--icinga-url needs {}".format(", ".join(missing)))
            password = read_local_file(args.icinga_password_file, "--icinga-password-file",
                                       MAX_PASSWORD_BYTES, private=True).decode().strip()
            found.append(sinks.IcingaApi(args.icinga_url, args.icinga_service, args.icinga_user,
                                         password, args.icinga_ca, args.icinga_name,
                                         args.ttl or 3 * args.heartbeat, socket.getfqdn()))
        if args.command_file:
            if not args.icinga_service:
                raise PluginError("--command-file needs --icinga-service HOST!SERVICE")
            found.append(sinks.CommandFile(args.command_file, args.icinga_service))
        return [sinks.Sender(sink, **{k: v for k, v in delivery.get(str(sink), {}).items()
                                      if k in ("delivered", "dropped")}) for sink in found]

    def _config_mtime(self):
        path = self.args.from_keepalived
        try:
            return os.stat(path).st_mtime_ns if path else None
        except OSError:
            return None

    def snapshot(self, now):
        return {"timeline": self.timeline.to_dict(), "iface": self.segment.iface,
                "mac": self.segment.mac, "labels": self.labels, "started": self.started,
                "written": now, "heartbeat": self.args.heartbeat,
                "router": "{} (SNMP)".format(self.args.host) if self.args.host else None,
                "delivery": [sender.counters() for sender in self.senders]}

    def report(self, now):
        """Decide the verdict now, push it, and write the state."""
        snapshot = self.snapshot(now)
        code, text = cli.render(verdict.NAME, verdict.build(snapshot, now, self.args.window))
        output, perfdata = split_perfdata(text)
        for sender in self.senders:
            sender.submit(sinks.Result(code, output, perfdata, now))
        for path, write in ((self.state_path, statefile.write),
                            (self.args.textfile, textfile.write)):
            try:
                if path:
                    write(path, snapshot)
            except OSError as exc:
                log.warning("cannot write %s: %s", path, exc.strerror or exc)
        return code, output.split("\n")[0]

    def _on_signal(self, signum, frame):
        self.signals.append(signum)

    def run(self):
        for signum in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        signal.set_wakeup_fd(self.wake_write)
        rounds = []
        next_round = next_beat = time.monotonic()
        watchdog = int(os.environ.get("WATCHDOG_USEC", "0")) / 2e6
        next_dog = 0.0
        last = self.report(time.time())
        log.warning("watching %d VIPs on %s (%s), %d witnesses: %s", len(self.knowledge.vips),
                    self.segment.iface, self.segment.mac, len(self.witnesses), last[1])
        notify("READY=1")
        while True:
            now = time.monotonic()
            if self.signals:
                if self._handle_signals():
                    break
            events = []
            if now >= next_round:
                events += self._probe_round(rounds)
                next_round = now + self.args.interval
            wake = [next_round, next_beat] + [r.close_at for r in rounds]
            if self.router and self.router.next_due() is not None:
                wake.append(self.router.next_due())
            events += self._listen(rounds, min(wake) - time.monotonic())
            events += self._close_rounds(rounds)
            events += self._follow(events)
            if events or time.monotonic() >= next_beat:
                for event in events:
                    log.warning("event %d: %s", event["id"], describe_event(event, self.labels))
                state = self.report(time.time())
                if state != last:
                    log.warning("%s", state[1])
                last = state
                next_beat = time.monotonic() + self.args.heartbeat
            if watchdog and time.monotonic() >= next_dog:
                notify("WATCHDOG=1")
                next_dog = time.monotonic() + watchdog
        notify("STOPPING=1")
        self.report(time.time())
        for sender in self.senders:
            sender.stop()

    def _follow(self, events):
        """The router's reads: asked after each owner change, judged when they are in."""
        if self.router is None:
            return []
        def mac(owner):
            return self.segment.mac if owner == THIS_HOST else owner
        for event in events:
            if event["event"] == "owner-change":
                self.router.owner_changed(event["vip"], mac(event["before"]),
                                          mac(event["after"]))
        self.router.start_due()
        found = []
        for asked, seen, error in self.router.results():
            if error is not None:
                log.warning("router %s, VIP %s: cannot read its entry (%s): %s", self.args.host,
                            asked.vip, "trying again" if self.router.again(asked, failed=True)
                            else "giving up for this failover", error)
                continue
            found += self.timeline.router_read(asked.vip, asked.before, asked.after, seen,
                                               time.time())
            if seen == asked.before:
                self.router.again(asked)
        return found

    def _handle_signals(self):
        """True to stop; SIGHUP reloads."""
        received, self.signals = self.signals, []
        if signal.SIGTERM in received or signal.SIGINT in received:
            return True
        self.reload("SIGHUP")
        return False

    def reload(self, why):
        notify("RELOADING=1")
        try:
            knowledge = Knowledge(self.args)
        except PluginError as exc:
            log.warning("reload (%s) refused, keeping the old configuration: %s", why, exc)
        else:
            knowledge.watch(self.witnesses)
            self.knowledge = knowledge
            self.timeline.reconfigure({str(vip): macs for vip, macs in knowledge.allowed.items()})
            log.warning("reloaded (%s): %d VIPs", why, len(knowledge.vips))
        self.config_mtime = self._config_mtime()
        notify("READY=1")

    def _holding(self):
        """What this host holds now: read as a round closes, so that a VIP it gave up
        during the round is not counted as its own (a failover is no split brain)."""
        try:
            held = host_segment.holder(Source("/"), self.knowledge.vips, self.segment.iface)
            self.timeline.holding(address_text(vip) for vip in held)
        except PluginError as exc:
            log.warning("cannot read this host's addresses: %s", exc)

    def _probe_round(self, rounds):
        """Probe every VIP and witness once, paced; what is heard while the pacing waits is
        taken in (a round of thousands of VIPs lasts seconds). Returns the events heard."""
        if self._config_mtime() != self.config_mtime:
            self.reload("{} changed".format(self.args.from_keepalived))
        targets = self.knowledge.targets
        probe = Round(float("inf"), {}, not self.witnesses)
        rounds.append(probe)
        events = []
        for start in range(0, len(targets), MAX_BATCH):
            batch = targets[start:start + MAX_BATCH]
            release = self.pacer.reserve(len(batch))
            while time.monotonic() < release:
                events += self._listen(rounds, release - time.monotonic())
            try:
                for target in batch:
                    self.sock.send(self.frames[target])
                    probe.sent[target] = time.time()
            except OSError as exc:
                log.warning("cannot send on %s: %s", self.segment.iface, exc)
                probe.sent, probe.reached = {}, False
                break
        probe.close_at = time.monotonic() + self.args.wait
        return events

    def _listen(self, rounds, seconds):
        readable, _, _ = select.select([self.sock, self.wake_read], [], [], max(seconds, 0))
        if self.wake_read in readable:
            try:
                os.read(self.wake_read, 512)
            except BlockingIOError:
                pass
        if self.sock not in readable:
            return []
        return self._drain(rounds)

    def _drain(self, rounds):
        events = []
        for heard in arp.receive(self.sock, arp.DISSECTORS, self.knowledge.watched,
                                 self.segment.mac, time.time):
            if isinstance(heard, arp.Advert):
                self.adverts.append(heard)
                continue
            for probe in rounds:
                probe.heard.append(heard)
                probe.reached = probe.reached or (heard.kind == "reply" and heard.ip in probe.sent)
            if heard.ip in self.knowledge.vip_names:
                events += self.timeline.heard(heard.ip, heard.arp_mac, heard.eth_mac, heard.at,
                                              heard.kind == "reply")
        return events

    def _close_rounds(self, rounds):
        events = []
        while rounds and rounds[0].close_at <= time.monotonic():
            probe = rounds.pop(0)
            if not probe.reached:
                log.info("a round nothing answered, not even a witness: no verdict from it")
                continue
            self.labels.update(host_segment.labels(Source("/"), self.segment.iface, probe.heard,
                                                   self.knowledge.roles, self.knowledge.names))
            self._holding()
            at = time.time()
            horizon = at - max(VRRP_HORIZON, self.args.interval + self.args.wait)
            self.adverts = [advert for advert in self.adverts if advert.at >= horizon]
            masters = keepalived.masters_at_once(self.adverts)
            for vip, vrid in self.knowledge.vrids.items():  # by the VIPs' texts, in order
                if vip in probe.sent:
                    events += self.timeline.round_closed(vip, probe.sent[vip], at,
                                                         masters.get(vrid, ()))
        return events


def describe_event(event, labels):
    """One journal line for an event, in the suite's words."""
    def name(mac):
        return "{} ({})".format(mac, labels[mac]) if mac in labels else mac
    kind, vip = event["event"], event["vip"]
    if kind == "foreign-start":
        return "{} claims VIP {}".format(name(event["mac"]), vip)
    if kind == "foreign-end":
        return "{} claimed VIP {} for {} ({} packets)".format(
            name(event["mac"]), vip, verdict.span(event["last"] - event["first"]),
            event["count"])
    if kind == "split-start":
        return "split brain: VIP {} owned by {}".format(
            vip, verdict.owned_by(event["macs"], name))
    if kind == "split-end":
        return "split brain over: VIP {}".format(vip)
    if kind == "owner-change":
        return "VIP {} taken over by {} from {}".format(vip, name(event["after"]),
                                                        name(event["before"]))
    if kind == "silent-start":
        return "nothing answers for VIP {}".format(vip)
    if kind == "router-stale":
        return "the router still sends VIP {} to {}, not to {}".format(
            vip, name(event["before"]), name(event["after"]))
    if kind == "router-fresh":
        return "the router sends VIP {} to {} now".format(vip, name(event["seen"]) or
                                                          "nobody (no entry)")
    return "VIP {} answered again".format(vip)


def main(argv=None):
    try:
        args = build_parser().parse_args(argv)
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(cli.OneLineFormatter("%(message)s"))
        root = logging.getLogger(LOGGER)
        root.addHandler(handler)
        root.setLevel(logging.DEBUG if args.verbose >= 2 else
                      logging.INFO if args.verbose else logging.WARNING)
        watcher = Watcher(args)
    except PluginError as exc:
        sys.stderr.write("{}: cannot start: {}\n".format(PROG, cli.printable(str(exc))))
        sys.exit(1)
    watcher.run()
