"""Status lines for checks with one result per item (a VIP, a real server)."""

import collections
import re

import nagiosplugin
from nagiosplugin.state import Ok

from lvs_dr_checks.cli import MAX_LINE, printable


def plural(count, singular, plural_form=None):
    return "{} {}".format(count, singular if count == 1 else plural_form or singular + "s")


def listing(names, used=0):
    """Names joined with commas, to end a line whose first ``used`` characters are written:
    the last ones counted rather than named where the line would pass its bound, so that
    every one is accounted for."""
    room = MAX_LINE - used - len(" and 99999 more")
    shown = []
    for name in names:
        if sum(len(n) + 2 for n in shown) + len(name) > room:
            return "{} and {} more".format(", ".join(shown), len(names) - len(shown))
        shown.append(name)
    return ", ".join(shown)


# The same finding on this many items or more is one line of -v naming them all.
GROUP_FROM = 4


def grouped_lines(entries, noun):
    """-v lines from (state, the finding said of any item, item name, the finding as said of
    that item), in order: a finding shared by GROUP_FROM items or more is one line, 'STATE: N
    items: finding: names', the others one line each."""
    groups = collections.OrderedDict()
    for state, shared, name, own in entries:
        groups.setdefault((state, shared), []).append((name, own))
    lines = []
    for (state, shared), members in groups.items():
        if len(members) >= GROUP_FROM:
            head = "{}: {}: {}: ".format(str(state).upper(), plural(len(members), noun), shared)
            lines.append(head + listing([name for name, _ in members], len(head)))
        else:
            lines += ["{}: {}".format(str(state).upper(), own) for _, own in members]
    return lines


def unique_labels(names):
    """{name: perfdata label}: what a label may not hold ('=', quotes, spaces, control
    characters) replaced, and names that would collide told apart by a stable suffix (_2,
    _3, ... in the names' sorted order), so that no two values share a label."""
    labels, taken = {}, set()
    for name in sorted(set(names)):
        base = re.sub(r"[='\s\\]", "_", printable(name, limit=64))
        label, suffix = base, 1
        while label in taken:
            suffix += 1
            label = "{}_{}".format(base, suffix)
        taken.add(label)
        labels[name] = label
    return labels


class ItemSummary(nagiosplugin.Summary):
    """The worst item first, with how many items are affected; -v lists every item, worst
    first. Subclasses name the items' context and noun and write the OK line."""

    context = None
    noun = None

    def items(self, results):
        return [r for r in results if r.metric is not None and r.metric.context == self.context]

    def problem(self, results):
        items = self.items(results)
        affected = [r for r in items if r.state != Ok]
        if not affected:
            return str(results.first_significant)
        worst = max(affected, key=lambda r: int(r.state))
        return "{} ({} of {} affected)".format(worst, len(affected), plural(len(items), self.noun))

    def ordered(self, results):
        return sorted(self.items(results), key=lambda r: -int(r.state))

    def verbose(self, results):
        return ["{}: {}".format(str(r.state).upper(), r) for r in self.ordered(results)]
