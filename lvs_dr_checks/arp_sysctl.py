"""check_arp_sysctl: may a real server's ARP-facing interfaces answer or announce a VIP?

Runtime values are judged by the kernel's rules (lvs_dr_checks.kernel); the boot-time values are
what systemd-sysctl would apply from the configuration (lvs_dr_checks.sysctl).
"""

import collections

import nagiosplugin
from nagiosplugin.state import Critical, Ok, Warn

from lvs_dr_checks import cli, kernel, links, netconfig, sysctl, target
from lvs_dr_checks.summary import unique_labels

NAME = "ARP_SYSCTL"
NEW_INTERFACES = "default"


class _Combined:
    """The value in force on ``scope``: ``all`` and the interface's own, combined by the kernel."""

    @property
    def effective(self):
        return kernel.effective(self.key, self.all_value, self.own_value)


class Setting(_Combined, collections.namedtuple("Setting", "scope key all_value own_value")):
    """One key on one interface now."""

    def origin(self):
        return "all={}, {}={}".format(self.all_value, self.scope, self.own_value)


class BootSetting(_Combined, collections.namedtuple("BootSetting", "scope key all_value all_from "
                                                                   "own_value own_from")):
    """One key on one interface as the boot configuration leaves it, with the lines that set it."""

    def origin(self):
        def said(scope, assignment):
            if assignment is None:
                return "{}: not set".format(scope)
            return "{}: {} '{}'".format(scope, assignment.where, assignment.text)
        return "{}; {}".format(said("all", self.all_from), said(self.scope, self.own_from))


class ArpSysctl(nagiosplugin.Resource):
    """Reads the interfaces, their runtime values and the boot configuration."""

    name = NAME

    def __init__(self, runtime_source, config_source, interfaces, persistence):
        self.runtime_source = runtime_source
        self.config_source = config_source
        self.interfaces = interfaces
        self.persistence = persistence
        self.checked = []
        self.labels = {}

    def _select(self, present):
        def has_ipv4(name):
            return self.runtime_source.kind("{}/{}".format(sysctl.PROC_CONF, name)) is not None

        if self.interfaces:
            unknown = [name for name in self.interfaces if name not in present]
            if unknown:
                raise cli.PluginError("no interface {} here (present: {})".format(
                    ", ".join(unknown), ", ".join(sorted(present))))
            return list(dict.fromkeys(self.interfaces))
        chosen = [name for name, link in sorted(present.items())
                  if link.arp_facing and has_ipv4(name)]
        if not chosen:
            raise cli.PluginError("no ARP-facing interface found (present: {}); name one with -i"
                                  .format(", ".join(sorted(present))))
        return chosen

    def probe(self):
        self.checked = self._select(links.read_links(self.runtime_source))
        self.labels = unique_labels(self.checked)
        values = sysctl.read_runtime(self.runtime_source, ["all", NEW_INTERFACES] + self.checked)
        exposed = 0
        for scope in self.checked:
            settings = [Setting(scope, key, values["all"][key], values[scope][key])
                        for key in kernel.KEYS]
            exposed += any(kernel.exposes(s.key, s.effective) for s in settings
                           if s.key in kernel.VIP_KEYS)
            for setting in settings:
                yield nagiosplugin.Metric("{}_{}".format(self.labels[scope], setting.key), setting,
                                          context=setting.key)
        for key in (kernel.ARP_IGNORE, kernel.ARP_ANNOUNCE):
            yield nagiosplugin.Metric("new_interfaces_" + key,
                                      Setting(NEW_INTERFACES, key, values["all"][key],
                                              values[NEW_INTERFACES][key]),
                                      context=key)
        yield nagiosplugin.Metric("exposed_interfaces", exposed, min=0, max=len(self.checked),
                                  context="exposed_interfaces")
        if self.persistence:
            yield from self._boot_metrics()

    def _boot_metrics(self):
        boot = sysctl.BootSysctl(self.config_source)
        networkd = netconfig.networkd_proxy_arp(self.config_source, self.checked)
        unpersisted = 0
        for scope in self.checked:
            for key in kernel.KEYS:
                all_value, all_from = boot.value("all", key)
                own_value, own_from = boot.value(scope, key)
                if key == kernel.PROXY_ARP and scope in networkd:
                    own_value, path, line, text = networkd[scope]
                    own_from = sysctl.Assignment(sysctl.conf_path(scope, key), str(own_value),
                                                 path, line, text)
                setting = BootSetting(scope, key, all_value, all_from, own_value, own_from)
                unpersisted += kernel.exposes(key, setting.effective)
                yield nagiosplugin.Metric("{}_{}_boot".format(self.labels[scope], key), setting,
                                          context="boot")
        yield nagiosplugin.Metric("unpersisted_settings", unpersisted, min=0,
                                  context="unpersisted_settings")


class SettingContext(nagiosplugin.Context):
    """Judges one runtime key against the accepted values; subclasses say what is accepted."""

    key = None
    fix_target = None

    def __init__(self):
        super().__init__(self.key)

    def accepted(self):
        raise NotImplementedError

    def state_of(self, value):
        return Ok if value in self.accepted() else Critical

    def crit_range(self):
        accepted = sorted(self.accepted())
        if accepted == list(range(accepted[0], accepted[-1] + 1)):
            return "{}:{}".format(accepted[0], accepted[-1])
        return None

    def meaning(self, value):
        raise NotImplementedError

    def evaluate(self, metric, resource):
        setting = metric.value
        value = setting.effective
        state = self.state_of(value)
        subject = "{} {} {}".format(setting.scope, setting.key, value)
        if setting.scope == NEW_INTERFACES:
            subject = "interfaces created later (VLANs, bonds, containers) get {} {}".format(
                setting.key, value)
            state = Ok if state == Ok else Warn
        text = "{} ({}): {}".format(subject, setting.origin(), self.meaning(value))
        if state != Ok:
            fix = kernel.fixes(setting.key, setting.scope, setting.all_value, setting.own_value,
                               self.fix_target, self.accepted())
            text += "; set " + ", ".join(fix)
        return self.result_cls(state, text, metric)

    def performance(self, metric, resource):
        setting = metric.value
        if setting.scope == NEW_INTERFACES:
            return None
        return nagiosplugin.Performance(metric.name, setting.effective,
                                        crit=self.crit_range(), min=0)


class ArpIgnoreContext(SettingContext):
    key = kernel.ARP_IGNORE
    fix_target = 1

    def __init__(self, accepted):
        super().__init__()
        self._accepted = tuple(accepted)
        self.fix_target = min(self._accepted)

    def accepted(self):
        return self._accepted

    def state_of(self, value):
        if value in self._accepted:
            return Ok
        return Warn if value == kernel.ARP_IGNORE_NO_REPLY else Critical

    def meaning(self, value):
        return kernel.arp_ignore_meaning(value)

    def performance(self, metric, resource):
        perf = super().performance(metric, resource)
        return perf and perf._replace(max=kernel.ARP_IGNORE_MAX)


class ArpAnnounceContext(SettingContext):
    key = kernel.ARP_ANNOUNCE
    fix_target = kernel.ARP_ANNOUNCE_SAFE

    def accepted(self):
        return (kernel.ARP_ANNOUNCE_SAFE,)

    def meaning(self, value):
        return kernel.arp_announce_meaning(value)


class ProxyArpContext(SettingContext):
    key = kernel.PROXY_ARP
    fix_target = 0

    def accepted(self):
        return (0,)

    def state_of(self, value):
        return Ok if value == 0 else Warn

    def crit_range(self):
        return None

    def meaning(self, value):
        return ("answers ARP for addresses routed through other interfaces" if value
                else "off")

    def performance(self, metric, resource):
        perf = super().performance(metric, resource)
        return perf and perf._replace(warn="0", max=1)


class BootContext(nagiosplugin.Context):
    """Would the boot configuration restore an accepted value? WARNING where it would not."""

    def __init__(self, setting_contexts):
        super().__init__("boot")
        self.setting_contexts = setting_contexts

    def evaluate(self, metric, resource):
        setting = metric.value
        context = self.setting_contexts[setting.key]
        value = setting.effective
        if context.state_of(value) == Ok:
            return self.result_cls(Ok, "{} {} {} after reboot ({})".format(
                setting.scope, setting.key, value, setting.origin()), metric)
        return self.result_cls(Warn, "{} {} would be {} after reboot ({}): {}".format(
            setting.scope, setting.key, value, setting.origin(), self.advice(setting, context)),
            metric)

    @staticmethod
    def advice(setting, context):
        """What to change: a networkd link file wins over sysctl.d, so it is fixed there."""
        own = setting.own_from
        if own is not None and own.file.endswith(".network"):
            return "set IPv4ProxyARP=no in {} (networkd applies it after sysctl.d)".format(
                own.file)
        fix = kernel.fixes(setting.key, setting.scope, setting.all_value, setting.own_value,
                           context.fix_target, context.accepted())
        return "add '{}' to a file in /etc/sysctl.d".format("', '".join(fix))


COUNT_CONTEXTS = ("exposed_interfaces", "unpersisted_settings")


class ArpSysctlSummary(nagiosplugin.Summary):
    """The worst finding first, then how many more; -v lists every finding."""

    def __init__(self, resource):
        self.resource = resource

    @staticmethod
    def findings(results):
        return [r for r in results if r.metric is None or r.metric.context not in COUNT_CONTEXTS]

    def ok(self, results):
        names = self.resource.checked
        text = "{} ARP-facing interface{} ({}): VIPs on lo are not answered nor announced".format(
            len(names), "" if len(names) == 1 else "s", ", ".join(names))
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
        ordered = sorted(self.findings(results), key=lambda r: -int(r.state))
        return ["{}: {}".format(str(r.state).upper(), r) for r in ordered]


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
    parser = cli.make_parser(
        "check_arp_sysctl",
        "Checks that no ARP-facing interface of an LVS-DR real server answers ARP for a VIP "
        "held on lo or announces it (arp_ignore, arp_announce, proxy_arp by the kernel's "
        "rules), and that the boot configuration restores these values.")
    parser.add_argument("-i", "--interface", action="append", metavar="IFACE",
                        help="check this interface (repeatable; default: every ARP-facing one)")
    parser.add_argument("--arp-ignore", type=parse_arp_ignore, default=kernel.ARP_IGNORE_PROTECTS,
                        metavar="LIST", help="accepted effective arp_ignore values, a subset of "
                                             "1,2,8 (default: 1,2; 8 answers no ARP at all)")
    target.add_options(parser)
    return parser


def make_check(runtime_source, config_source, interfaces=None,
               arp_ignore=kernel.ARP_IGNORE_PROTECTS, persistence=True):
    """The nagiosplugin Check, for the command line and for the director's sweep."""
    resource = ArpSysctl(runtime_source, config_source, interfaces, persistence)
    contexts = {context.key: context for context in
                (ArpIgnoreContext(arp_ignore), ArpAnnounceContext(), ProxyArpContext())}
    return nagiosplugin.Check(
        resource, *contexts.values(), BootContext(contexts),
        nagiosplugin.ScalarContext("exposed_interfaces", critical="0"),
        nagiosplugin.ScalarContext("unpersisted_settings", warning="0"),
        ArpSysctlSummary(resource))


def build_check(args):
    runtime_source, config_source = target.sources(args)
    return make_check(runtime_source, config_source, args.interface, args.arp_ignore,
                      not args.no_persistence)


def main(argv=None):
    cli.run(NAME, build_parser(), build_check, argv)
