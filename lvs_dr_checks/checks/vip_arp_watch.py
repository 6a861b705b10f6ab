"""check_vip_arp_watch: what lvs-dr-watch saw on the wire, for NRPE and agent sites.

Reads the state file lvs-dr-watch keeps (no privileges, nothing sent on the wire) and gives
the watcher's own verdict, the one it pushes to Icinga: a foreign claim or a split brain is
CRITICAL from its first packet until it is older than --window, so that a claim of a few
seconds between two polls is seen ("02:00:5e:00:00:0b (192.0.2.11) claimed VIP 192.0.2.100
for 4.2 s at 03:12:07, 3 times in the last 15 min"); silence is CRITICAL while it lasts. A
state file older than --max-age (a dead or stuck watcher) is UNKNOWN.

A plugin of its own rather than a mode of check_vip_arp_owner: it needs no privilege and
sends nothing, it takes none of the probe's options, and its one failure of its own (a
watcher that stopped) is a different cause with a different fix.

Perfdata: vips, foreign_claims and split_brains (in the window; critical above 0),
silent_vips (critical above 0), owner_changes (in the window), age (of the state).

Examples:
  check_vip_arp_watch --from-watch
  check_vip_arp_watch --from-watch /run/copy/state.json --window 3600
"""

import sys
import time

from lvs_dr_checks import cli
from lvs_dr_checks.watch import statefile, verdict

NAME = verdict.NAME
# A state written less often than this many heartbeats (plus a margin) is a stopped watcher.
STALE_HEARTBEATS = 3
STALE_MARGIN = 10.0


def build_parser():
    parser = cli.make_parser("check_vip_arp_watch", __doc__)
    parser.add_argument("--from-watch", nargs="?", const=statefile.DEFAULT_PATH,
                        default=statefile.DEFAULT_PATH, metavar="PATH",
                        help="the state file of lvs-dr-watch (default %(const)s)")
    parser.add_argument("--window", type=cli.seconds_up_to(86400),
                        default=verdict.DEFAULT_WINDOW, metavar="SECONDS",
                        help="a foreign claim or split brain stays CRITICAL this long after it "
                             "ended (default %(default)g)")
    parser.add_argument("--max-age", type=cli.seconds_up_to(86400), metavar="SECONDS",
                        help="UNKNOWN when the state is older (default: {} of the watcher's "
                             "heartbeats plus {:g} s)".format(STALE_HEARTBEATS, STALE_MARGIN))
    return parser


def build_check(args):
    snapshot = statefile.read(args.from_watch)
    max_age = args.max_age or STALE_HEARTBEATS * snapshot["heartbeat"] + STALE_MARGIN
    return verdict.build(snapshot, time.time(), args.window, max_age)


def main(argv=None):
    cli.run(NAME, build_parser(), build_check, sys.argv[1:] if argv is None else argv)
