"""The plugins' own error and log: a PluginError is a failure the operator or the environment
can cause, and becomes the run's one UNKNOWN line (cli.run). Models raise it and log through
logger() without knowing the command line."""

import logging

# Below nagiosplugin's logger, whose records it prints; its level follows -v (cli.run).
LOGGER = "nagiosplugin.lvs_dr"


class PluginError(Exception):
    """A failure the operator can cause; the message names the cause and the fix."""


def logger(name):
    """A logger whose records nagiosplugin prints: -vv shows info, -vvv debug."""
    return logging.getLogger(LOGGER + "." + name)
