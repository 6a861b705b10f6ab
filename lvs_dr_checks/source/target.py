"""Which host a real-server check reads: this one, or another over SSH (-H); and where its
boot-time configuration lives (--root). Shared by check_arp_sysctl and check_vip_on_lo."""

from lvs_dr_checks import cli
from lvs_dr_checks.source.local import Source


def add_options(parser):
    parser.add_argument("--root", default="/", metavar="DIR",
                        help="read the boot-time configuration under DIR instead of / "
                             "(a mounted image, a copy of /etc)")
    parser.add_argument("--no-persistence", action="store_true",
                        help="skip the boot-time verdict")
    remote = add_ssh_options(parser)
    remote.add_argument("-H", "--host", metavar="HOST",
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


def remote_source(args):
    """The host of -H, read over a connection made with the --ssh-* options."""
    from lvs_dr_checks.source.ssh.sftp import SSHSource
    source = SSHSource(remote_target(args).connect(), args.host)
    source.learn_top_level()
    return source


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
