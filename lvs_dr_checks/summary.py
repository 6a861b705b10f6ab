"""Status lines for checks with one result per item (a VIP, a real server)."""

import nagiosplugin
from nagiosplugin.state import Ok


def plural(count, singular, plural_form=None):
    return "{} {}".format(count, singular if count == 1 else plural_form or singular + "s")


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
