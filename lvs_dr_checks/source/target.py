"""Which host a check reads: this one, or another over SSH (-H, checked when the options are
parsed); and where its boot-time configuration lives (--root). open_source() is the one way
to a remote host, for -H and for the sweep's real servers alike."""

from lvs_dr_checks import cli
from lvs_dr_checks.source.local import Source
from lvs_dr_checks.source.ssh.config import valid_host


def add_options(parser):
    parser.add_argument("--root", default="/", metavar="DIR",
                        help="read the boot-time configuration under DIR instead of / "
                             "(a mounted image, a copy of /etc)")
    parser.add_argument("--no-persistence", action="store_true",
                        help="skip the boot-time verdict")
    remote = add_ssh_options(parser)
    remote.add_argument("-H", "--host", type=valid_host, metavar="HOST",
                        help="check HOST over SSH instead of this host (reads only; nothing is "
                             "installed or written there)")


def add_ssh_options(parser):
    """--ssh-user, --ssh-port, --ssh-key, --known-hosts, --ssh-password-file."""
    remote = parser.add_argument_group("remote mode (agentless, over SSH)")
    remote.add_argument("--ssh-user", metavar="USER", help="login user (default: ~/.ssh/config, "
                                                           "else the local user)")
    remote.add_argument("--ssh-port", type=cli.port_number, metavar="PORT", help="default: 22")
    remote.add_argument("--ssh-key", metavar="FILE", help="private key (default: the agent and "
                                                          "~/.ssh/id_*)")
    remote.add_argument("--known-hosts", metavar="FILE",
                        help="known_hosts to verify the host key against (default: "
                             "~/.ssh/known_hosts); unknown or changed keys are refused")
    remote.add_argument("--ssh-password-file", metavar="FILE",
                        help="read a password from FILE (or set LVS_DR_SSH_PASSWORD); never "
                             "on the command line")
    return remote


# The share of -t a connection may take, so that a dead host is named before the run's timer.
CONNECT_SHARE = 0.6


def remote_target(args, host=None, connect_timeout=None):
    from lvs_dr_checks.source.ssh.connect import Target
    return Target(args.host if host is None else host, args.ssh_port, args.ssh_user,
                  args.ssh_key, args.known_hosts, args.ssh_password_file,
                  timeout=connect_timeout or args.timeout * CONNECT_SHARE)


def open_source(target, commands=()):
    """The host of ``target`` (an ssh.connect.Target) over one new connection, with the
    top level of its tree learnt; ``commands`` (each a function of the source, giving an
    argv) are started first, to be on their way while the rest is read. close() it when
    done."""
    from lvs_dr_checks.source.ssh.sftp import SSHSource
    source = SSHSource(target.connect(), target.host)
    try:
        source.prefetch(commands=[command(source) for command in commands])
        source.learn_top_level()
    except BaseException:
        source.close()
        raise
    return source


def remote_source(args):
    """The host of -H, read over a connection made with the --ssh-* options."""
    return open_source(remote_target(args))


def sources(args):
    """(runtime source, configuration source) for the options given."""
    runtime = remote_source(args) if args.host is not None else Source("/")
    if args.root == "/":
        return runtime, runtime
    config = runtime.with_root(args.root)
    if config.kind("/") != "dir":
        raise cli.PluginError("--root {}: no such directory{}".format(
            args.root, " on " + args.host if args.host is not None else ""))
    return runtime, config
