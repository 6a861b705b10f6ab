"""lvs-dr-watch's state file: its timeline, labels and delivery counters as JSON, written
atomically (a new file renamed over the old), so that a reader or a restart never sees half a
state; read by the watcher when it starts and by check_vip_arp_watch."""

import json
import os
import tempfile
from typing import Any

from lvs_dr_checks.errors import PluginError

FORMAT = 1
# What a reader needs of a state, and of its timeline (watch/verdict.py, timeline.py).
SHAPE = {"timeline": dict, "iface": str, "started": (int, float), "written": (int, float),
         "heartbeat": (int, float)}
TIMELINE_SHAPE = {"vips": dict, "events": list, "next_id": int, "held": list}
DEFAULT_DIRECTORY = "/var/lib/lvs-dr-watch"
FILE_NAME = "state.json"
DEFAULT_PATH = os.path.join(DEFAULT_DIRECTORY, FILE_NAME)


def replace(path: str, text: str) -> None:
    """Replace ``path`` by ``text`` at once (a new file renamed over it), readable by all:
    what the watcher writes names MACs and VIPs, no secret."""
    directory = os.path.dirname(path) or "."
    handle, temporary = tempfile.mkstemp(prefix="." + os.path.basename(path) + "-",
                                         dir=directory)
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def write(path: str, state: dict[str, Any]) -> None:
    """Replace ``path`` by ``state``."""
    replace(path, json.dumps(dict(state, format=FORMAT), sort_keys=True))


def read(path: str) -> dict[str, Any]:
    """The state in ``path``; a PluginError naming the cause and the fix otherwise."""
    try:
        with open(path, encoding="utf-8") as handle:
            state = json.load(handle)
    except FileNotFoundError:
        raise PluginError("{}: no such file: is lvs-dr-watch running, with this state "
                          "directory? (systemctl status lvs-dr-watch)".format(path))
    except OSError as exc:
        raise PluginError("{}: cannot read it: {} (the file must be readable by this "
                          "user)".format(path, exc.strerror or exc))
    except ValueError as exc:
        raise PluginError("{}: not lvs-dr-watch's state ({}): give the state file of "
                          "lvs-dr-watch".format(path, exc))
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise PluginError("{}: not lvs-dr-watch's state (format {}, this reader knows {}): "
                          "give the state file of lvs-dr-watch of the same release".format(
                              path, state.get("format") if isinstance(state, dict) else None,
                              FORMAT))
    missing = [key for key, kind in SHAPE.items() if not isinstance(state.get(key), kind)]
    timeline = state.get("timeline") if isinstance(state.get("timeline"), dict) else {}
    missing += ["timeline." + key for key, kind in TIMELINE_SHAPE.items()
                if not isinstance(timeline.get(key), kind)]
    if missing:
        raise PluginError("{}: damaged lvs-dr-watch state ({} missing or wrong): restart "
                          "lvs-dr-watch, which starts a new history".format(
                              path, ", ".join(missing)))
    return state
