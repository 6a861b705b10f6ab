"""check_arp_sysctl: may this host's ARP-facing interfaces answer or announce what they must
not, now and after a reboot?

On a real server: a VIP held on lo must be neither answered (arp_ignore 1 or 2) nor announced
(arp_announce 2) on any ARP-facing interface, and nothing answered for others (proxy_arp). On
a director (VIPs in its IPVS table or keepalived.conf, or --role director): every vmac
(macvlan) interface, and the device under it, answers only for its own addresses
(arp_ignore 1 or 2); proxy_arp and proxy_arp_pvlan are off; arp_filter and arp_announce are
reported. Effective values follow the kernel (max or OR of all and the interface); the
boot-time values are what systemd-sysctl and udev (or, on a system whose /sbin/init is not
systemd, procps' `sysctl --system`) would leave after a reboot, replayed with the kernel's
default propagation (lvs_dr_checks.boot.sysctl).

States: CRITICAL, an interface answers or announces what it must not now. WARNING, proxy ARP,
arp_ignore 8 (answers nothing at all), interfaces created later unprotected, or a reboot would
bring a setting back that is not accepted (interfaces created after it included). UNKNOWN, a setup error.

Perfdata: <if>_arp_ignore, <if>_arp_announce, <if>_proxy_arp (each with its accepted range),
exposed_interfaces (interfaces with a CRITICAL setting; critical above 0),
unpersisted_settings (settings a reboot would lose; warning above 0).

Examples:
  check_arp_sysctl
  check_arp_sysctl -i bond0 --arp-ignore 2 --root /mnt/image
  check_arp_sysctl --role director
  check_arp_sysctl --boot procps
"""

import collections
import re

import nagiosplugin
from nagiosplugin.state import Critical, Ok, Warn

from lvs_dr_checks import cli, kernel, options
from lvs_dr_checks.boot import netconfig
from lvs_dr_checks.boot import sysctl as boot_sysctl
from lvs_dr_checks.host import arpfilter, links, role, sysctl
from lvs_dr_checks.source import target
from lvs_dr_checks.summary import grouped_lines, unique_labels

NAME = "ARP_SYSCTL"
log = cli.logger("arp_sysctl")
NEW_INTERFACES = "default"
NEW_INTERFACES_SAID = "interfaces created later (VLANs, bonds, containers)"
STATES = {kernel.OK: Ok, kernel.WARNING: Warn, kernel.CRITICAL: Critical}
# --- Acquisition: the Resource reads the host and yields its metrics ---

# The keys that get perfdata: the three that decide a real server's exposure; per-interface
# values for the first this many interfaces checked, whatever their state (the labels change
# with the host's interfaces, never with a finding), so that hundreds of interfaces keep the
# output within its bound. The counts are always there.
PERFDATA_KEYS = kernel.KEYS
PERFDATA_INTERFACES = 16


class Setting(collections.namedtuple("Setting", "scope key all_value own_value rule origin "
                                                "fixed_in shield")):
    """One key on one interface, now or after a reboot: the values of ``all`` and of the
    interface, the rule that judges it, where the values come from (text), the file to fix
    instead of sysctl.d when one overrides it (networkd) or None, and ``shield``: nftables
    rules that drop ARP requests for every VIP on this interface (text), or None."""

    @property
    def effective(self):
        return kernel.effective(self.key, self.all_value, self.own_value)

    @property
    def verdict(self):
        verdict = self.rule.verdict(self.effective)
        if self.shield and self.key == kernel.ARP_IGNORE and verdict == kernel.CRITICAL:
            return kernel.OK  # the kernel never sees the requests it would answer
        return verdict

    @property
    def fix(self):
        accepted = self.rule.accepted or ()
        return kernel.fixes(self.key, self.scope, self.all_value, self.own_value,
                            self.rule.fix_target, accepted)


class ArpSysctl(nagiosplugin.Resource):
    """Reads the interfaces, their runtime values and the boot configuration, and judges
    each setting once by its rule."""

    name = NAME

    def __init__(self, runtime_source, config_source, interfaces, persistence, arp_ignore,
                 role_name="auto", boot_tool=None, sudo=True):
        self.runtime_source = runtime_source
        self.sudo = sudo
        self.boot_tool = boot_tool
        self.config_source = config_source
        self.interfaces = interfaces
        self.persistence = persistence
        self.arp_ignore = arp_ignore
        self.role_name = role_name
        self.director = False
        self.checked = []
        self.labels = {}
        self.rules = {}
        self.shields = {}
        self.shield_persisted = False
        self.filters_unknown = False
        self.graphed = set()  # the interfaces whose values get perfdata

    def _select(self, present):
        def has_ipv4(name):
            return self.runtime_source.kind("{}/{}".format(sysctl.PROC_CONF, name)) is not None

        if self.interfaces:
            unknown = [name for name in self.interfaces if name not in present]
            if unknown:
                raise cli.PluginError("no interface {} here (present: {})".format(
                    ", ".join(unknown), ", ".join(sorted(present))))
            for name in self.interfaces:
                link = present[name]
                if link.arp_silent:
                    raise cli.PluginError("-i {}: loopback or NOARP, it answers no ARP itself "
                                          "(it holds VIPs safely); check the ARP-facing "
                                          "interfaces".format(name))
                if link.enslaved:
                    raise cli.PluginError("-i {}: a bridge port or bond slave, its ARP is its "
                                          "master's; name the master".format(name))
            return list(dict.fromkeys(self.interfaces))
        chosen = [name for name, link in sorted(present.items())
                  if link.arp_facing and has_ipv4(name)]
        if not chosen:
            raise cli.PluginError("no ARP-facing interface found (present: {}); name one with -i"
                                  .format(", ".join(sorted(present))))
        return chosen

    def _rules(self, present):
        """The rules of each checked interface, by this host's role."""
        if self.role_name == "auto":
            self.director = bool(role.director_vips(self.runtime_source, self.config_source))
        else:
            self.director = self.role_name == "director"
        if not self.director:
            rules = kernel.realserver_rules(self.arp_ignore)
            return {name: rules for name in self.checked}
        stacked = {name: links.lower_device(self.runtime_source, name) for name in present}
        kinds = links.read_kinds(self.runtime_source)
        vmacs = {name for name, kind in kinds.items() if kind == "macvlan"}
        under_vmacs = {stacked[name] for name in vmacs if name in stacked}
        return {name: kernel.director_rules(name in vmacs or name in under_vmacs)
                for name in self.checked}

    def probe(self):
        present = links.read_links(self.runtime_source)
        self.checked = self._select(present)
        self.labels = unique_labels(self.checked)
        self.rules = self._rules(present)
        keys = kernel.KEYS + (kernel.DIRECTOR_KEYS if self.director else ())
        values = sysctl.read_runtime(self.runtime_source, ["all", NEW_INTERFACES] + self.checked,
                                     keys)
        now = {scope: [_now(scope, key, values, self.rules[scope][key]) for key in keys
                       if key in self.rules[scope] and key in values[scope]
                       and key in values["all"]]
               for scope in self.checked}
        self._find_shields(now, present)
        exposed = 0
        self.graphed = set(self.checked[:PERFDATA_INTERFACES])
        for scope in self.checked:
            settings = [s._replace(shield=self.shields.get(scope)) for s in now[scope]]
            exposed += any(s.verdict == kernel.CRITICAL for s in settings)
            for setting in settings:
                yield nagiosplugin.Metric("{}_{}".format(self.labels[scope], setting.key),
                                          setting, context="setting")
        if not self.director:
            rules = self.rules[self.checked[0]]
            for key in (kernel.ARP_IGNORE, kernel.ARP_ANNOUNCE):
                yield nagiosplugin.Metric("new_interfaces_" + key,
                                          _now(NEW_INTERFACES, key, values, rules[key]),
                                          context="setting")
        yield nagiosplugin.Metric("exposed_interfaces", exposed, min=0, max=len(self.checked),
                                  context="exposed_interfaces")
        if self.persistence:
            yield from self._boot_metrics(keys)

    def _find_shields(self, now, present):
        """nftables rules that keep the kernel from answering for the VIPs held on lo, read
        only on a real server and where arp_ignore alone would expose them (it may need
        sudo)."""
        self.shields, self.filters_unknown = {}, False
        exposed = [scope for scope, settings in now.items() if not self.director and any(
            s.key == kernel.ARP_IGNORE and s.verdict == kernel.CRITICAL for s in settings)]
        if not exposed:
            return
        try:
            addresses = links.read_addresses(self.runtime_source)
        except cli.PluginError as exc:  # no VIP known, no protection proven
            log.info("addresses not read, nftables protection not looked for: %s", exc)
            self.filters_unknown = True
            return
        vips = [a.address for a in addresses
                if a.address.version == 4 and not a.address.is_loopback
                and present.get(a.interface) and present[a.interface].arp_silent]
        ruleset = arpfilter.read_ruleset(self.runtime_source, self.sudo)
        if ruleset is None:
            self.filters_unknown = True
            return
        found = arpfilter.drops(ruleset)
        for scope in exposed:
            shield = arpfilter.shielded(found, scope, vips)
            if shield:
                self.shields[scope] = "nftables drops ARP requests for {} ({})".format(
                    ", ".join(str(v) for v in vips), "; ".join(d.where for d in shield))
        self.shield_persisted = bool(self.shields) and arpfilter.persisted(
            self.config_source, vips)

    def _boot_metrics(self, keys):
        boot = boot_sysctl.boot_model(self.config_source, self.boot_tool).boot(
            list(dict.fromkeys(["lo"] + self.checked)))
        networkd = netconfig.networkd_proxy_arp(self.config_source, self.checked)
        unpersisted = 0
        for scope in self.checked:
            for key in keys:
                if key not in self.rules[scope]:
                    continue
                every, own = boot.value("all", key), boot.value(scope, key)
                own_value, own_said, fixed_in = own.value, _said(scope, own), None
                if key == kernel.PROXY_ARP and scope in networkd:
                    own_value, fixed_in, line, text = networkd[scope]
                    own_said = "{}: {}:{} '{}'".format(scope, fixed_in, line, text)
                setting = Setting(scope, key, every.value, own_value, self.rules[scope][key],
                                  "{}; {}".format(_said("all", every), own_said), fixed_in,
                                  self.shields.get(scope) and self.shield_persisted)
                unpersisted += setting.verdict != kernel.OK
                yield nagiosplugin.Metric("{}_{}_boot".format(self.labels[scope], key), setting,
                                          context="boot")
        if not self.director:  # what interfaces created after the boot start with
            rules = self.rules[self.checked[0]]
            for key in (kernel.ARP_IGNORE, kernel.ARP_ANNOUNCE):
                every, new = boot.value("all", key), boot.value(NEW_INTERFACES, key)
                setting = Setting(NEW_INTERFACES, key, every.value, new.value, rules[key],
                                  "{}; {}".format(_said("all", every),
                                                  _said(NEW_INTERFACES, new)), None, None)
                unpersisted += setting.verdict != kernel.OK
                yield nagiosplugin.Metric("new_interfaces_{}_boot".format(key), setting,
                                          context="boot")
        yield nagiosplugin.Metric("unpersisted_settings", unpersisted, min=0,
                                  context="unpersisted_settings")


# --- Evaluation: the Contexts decide each verdict, once ---

def _now(scope, key, values, rule):
    """A runtime Setting of ``scope`` from /proc/sys values (no nftables shield yet)."""
    return Setting(scope, key, values["all"][key], values[scope][key], rule,
                   "all={}, {}={}".format(values["all"][key], scope, values[scope][key]), None,
                   None)


def _said(scope, setting):
    """Where a value after boot comes from: the line, or default's line, or nothing."""
    if setting.origin is None:
        return "{}: not set".format(scope)
    line = "{} '{}'".format(setting.origin.where, setting.origin.text)
    if setting.via == "refused":
        return "{}: {} refused by the kernel".format(scope, line)
    return "{}:{} {}".format(scope, " via default" if setting.via else "", line)


class SettingContext(nagiosplugin.Context):
    """One key on one interface now, judged by its rule; interfaces created later (default)
    at most WARNING, as nothing is exposed yet."""

    def __init__(self):
        super().__init__("setting")

    def evaluate(self, metric, resource):
        setting = metric.value
        value = setting.effective
        state = STATES[setting.verdict]
        subject = "{} {} {}".format(setting.scope, setting.key, value)
        if setting.scope == NEW_INTERFACES:
            subject = "{} get {} {}".format(NEW_INTERFACES_SAID, setting.key, value)
            state = Ok if state == Ok else Warn
        text = "{} ({}): {}".format(subject, setting.origin, setting.rule.meaning(value))
        if setting.shield and setting.key == kernel.ARP_IGNORE:
            text += ", but {}".format(setting.shield)
        if state != Ok:
            text += "; set " + ", ".join(setting.fix)
            if setting.key == kernel.ARP_IGNORE and resource.filters_unknown:
                text += " ({})".format(arpfilter.HINT)
        return self.result_cls(state, text, metric)

    def performance(self, metric, resource):
        setting = metric.value
        rule = setting.rule
        if setting.scope == NEW_INTERFACES or setting.key not in PERFDATA_KEYS or \
                setting.scope not in resource.graphed:
            return None
        accepted = sorted(rule.accepted or ())
        bounds = None  # a Nagios range: "end" from 0, else "start:end"
        if accepted and accepted == list(range(accepted[0], accepted[-1] + 1)):
            bounds = str(accepted[-1]) if accepted[0] == 0 else "{}:{}".format(accepted[0],
                                                                               accepted[-1])
        return nagiosplugin.Performance(
            metric.name, setting.effective, min=0,
            warn=bounds if rule.otherwise == kernel.WARNING else None,
            crit=bounds if rule.otherwise == kernel.CRITICAL else None,
            max={kernel.ARP_IGNORE: kernel.ARP_IGNORE_MAX, kernel.PROXY_ARP: 1}.get(setting.key))


class BootContext(nagiosplugin.Context):
    """Would a reboot bring back an accepted value? WARNING where it would not, with the
    fix where it belongs."""

    def __init__(self):
        super().__init__("boot")

    def evaluate(self, metric, resource):
        setting = metric.value
        value = setting.effective
        scope = NEW_INTERFACES_SAID if setting.scope == NEW_INTERFACES else setting.scope
        if setting.verdict == kernel.OK:
            return self.result_cls(Ok, "{} {} {} after reboot ({})".format(
                scope, setting.key, value, setting.origin), metric)
        return self.result_cls(Warn, "{} {} would be {} after reboot ({}): {}".format(
            scope, setting.key, value, setting.origin, self.advice(setting)), metric)

    @staticmethod
    def advice(setting):
        """What to change: a networkd link file wins over sysctl.d, so it is fixed there."""
        if setting.fixed_in:
            return "set IPv4ProxyARP=no in {} (networkd applies it after sysctl.d)".format(
                setting.fixed_in)
        return "add '{}' to a file in /etc/sysctl.d".format("', '".join(setting.fix))


COUNT_CONTEXTS = ("exposed_interfaces", "unpersisted_settings")


# --- Presentation: the Summary ---

class ArpSysctlSummary(nagiosplugin.Summary):
    """The worst finding first, then how many more; -v lists every finding."""

    def __init__(self, resource):
        self.resource = resource

    @staticmethod
    def findings(results):
        return [r for r in results if r.metric is None or r.metric.context not in COUNT_CONTEXTS]

    def ok(self, results):
        names = self.resource.checked
        listed = "{} ARP-facing interface{} ({})".format(
            len(names), "" if len(names) == 1 else "s", ", ".join(names))
        if self.resource.director:
            text = ("director: {}: vmac interfaces answer only for their own addresses, no "
                    "proxy ARP".format(listed))
        else:
            text = "{}: VIPs on lo are not answered nor announced".format(listed)
        if self.resource.persistence:
            return text + "; the boot configuration keeps it so"
        return text + "; boot configuration not checked"

    def problem(self, results):
        worst = results.most_significant_state
        problems = [r for r in self.findings(results) if r.state != Ok]
        first = next((r for r in problems if r.state == worst), results.first_significant)
        more = len(problems) - 1
        return "{}{}".format(first, " (+{} more problem{})".format(more, "" if more == 1 else "s")
                             if more > 0 else "")

    def verbose(self, results):
        """Every finding, worst first; the same finding on several interfaces is one line
        naming them, so that hundreds of interfaces stay within the bounded output."""
        entries = []
        for result in sorted(self.findings(results), key=lambda r: -int(r.state)):
            scope = getattr(result.metric.value, "scope", None) if result.metric else None
            text = shared = str(result)
            if scope and scope != NEW_INTERFACES:
                shared = re.sub(r"(?<![\w.-]){}(?![\w-])".format(re.escape(scope)),
                                "<interface>", text)
            entries.append((result.state, shared, scope, text))
        return grouped_lines(entries, "interface")


# --- The command line: parser, Check, main ---

def parse_arp_ignore(text):
    try:
        values = tuple(sorted({int(item) for item in cli.comma_list(text)}))
    except ValueError:
        values = ()
    if not values or not set(values) <= set(kernel.ARP_IGNORE_PROTECTS + (kernel.ARP_IGNORE_NO_REPLY,)):
        raise cli.argparse.ArgumentTypeError(
            "must be a list of values that keep a VIP on lo unanswered (1, 2, 8): {!r}".format(text))
    return values


def build_parser():
    parser = cli.make_parser("check_arp_sysctl", __doc__)
    options.add_interface(parser, "check this interface (repeatable; default: every "
                                  "ARP-facing one)", repeatable=True)
    parser.add_argument("--arp-ignore", type=parse_arp_ignore, default=kernel.ARP_IGNORE_PROTECTS,
                        metavar="LIST", help="accepted effective arp_ignore values, a subset of "
                                             "1,2,8 (default: 1,2; 8 answers no ARP at all)")
    parser.add_argument("--role", choices=("auto", "realserver", "director"), default="auto",
                        help="judge as a real server or a director (default: a director when "
                             "its IPVS table or keepalived.conf holds VIPs)")
    parser.add_argument("--boot", choices=("auto", "systemd", "procps"), default="auto",
                        help="what applies sysctl settings at boot: systemd-sysctl and udev, or "
                             "procps' 'sysctl --system' (default: procps when /sbin/init is "
                             "not systemd)")
    parser.add_argument("--sudo", action="store_true",
                        help="read the nftables ruleset (ARP filters) through 'sudo -n' and the "
                             "documented sudo rule when this user may not read it")
    target.add_options(parser)
    return parser


def server_check(source, vips, persistence):
    """This check on a real server of the director's sweep, read through one source."""
    return make_check(source, source, persistence=persistence)


def make_check(runtime_source, config_source, interfaces=None,
               arp_ignore=kernel.ARP_IGNORE_PROTECTS, persistence=True, role_name="auto",
               boot_tool="auto", sudo=True):
    """The nagiosplugin Check of the command line (and, through server_check, the sweep,
    whose real servers carry the documented sudo rule for nft)."""
    resource = ArpSysctl(runtime_source, config_source, interfaces, persistence, arp_ignore,
                         role_name, None if boot_tool == "auto" else boot_tool, sudo)
    return nagiosplugin.Check(
        resource, SettingContext(), BootContext(),
        nagiosplugin.ScalarContext("exposed_interfaces", critical="0"),
        nagiosplugin.ScalarContext("unpersisted_settings", warning="0"),
        ArpSysctlSummary(resource))


def build_check(args):
    runtime_source, config_source = target.sources(args)
    return make_check(runtime_source, config_source, args.interface, args.arp_ignore,
                      not args.no_persistence, args.role, args.boot, args.sudo)


def main(argv=None):
    cli.run(NAME, build_parser(), build_check, argv)
