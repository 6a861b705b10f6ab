"""The boot-time model: what systemd-sysctl would apply, rule by rule, on configuration trees."""

import pytest
from conftest import write_tree

from lvs_dr_checks.boot.sysctl import BootSysctl, normalize_key
from lvs_dr_checks.source.local import Source


def tree(root, files):
    write_tree(str(root), files)
    return BootSysctl(Source(str(root)))


def value(boot, scope="eth0", key="arp_ignore"):
    """(value after boot, the line that set it) for interfaces present at boot."""
    setting = boot.boot(["lo", "eth0", "eth0.100", "eth0.200"]).value(scope, key)
    return setting.value, setting.origin.where if setting.origin else None


def test_nothing_configured_leaves_kernel_defaults(tmp_path):
    boot = tree(tmp_path, {})
    assert value(boot, "all") == (0, None)
    assert value(boot) == (0, None)


def test_a_file_in_etc_sets_the_value_and_is_named(tmp_path):
    boot = tree(tmp_path, {"/etc/sysctl.d/90-lvs.conf": "# LVS-DR\nnet.ipv4.conf.all.arp_ignore = 1\n"})
    assert value(boot, "all") == (1, "/etc/sysctl.d/90-lvs.conf:2")


def test_every_directory_of_the_search_path_is_read(tmp_path):
    for number, directory in enumerate(["/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d",
                                        "/usr/lib/sysctl.d", "/lib/sysctl.d"]):
        boot = tree(tmp_path / str(number),
                    {directory + "/50-x.conf": "net.ipv4.conf.all.arp_ignore=2\n"})
        assert value(boot, "all") == (2, directory + "/50-x.conf:1")


def test_same_name_in_etc_masks_the_vendor_file(tmp_path):
    boot = tree(tmp_path, {"/usr/lib/sysctl.d/50-x.conf": "net.ipv4.conf.all.arp_ignore=1\n",
                           "/etc/sysctl.d/50-x.conf": "net.ipv4.conf.all.arp_announce=2\n"})
    assert value(boot, "all") == (0, None)
    assert value(boot, "all", "arp_announce") == (2, "/etc/sysctl.d/50-x.conf:1")


def test_same_name_in_run_masks_usr_lib_but_not_etc(tmp_path):
    boot = tree(tmp_path, {"/usr/lib/sysctl.d/50-x.conf": "net.ipv4.conf.all.arp_ignore=1\n",
                           "/run/sysctl.d/50-x.conf": "net.ipv4.conf.all.arp_ignore=2\n"})
    assert value(boot, "all") == (2, "/run/sysctl.d/50-x.conf:1")


def test_symlink_to_dev_null_masks(tmp_path):
    boot = tree(tmp_path, {"/usr/lib/sysctl.d/50-x.conf": "net.ipv4.conf.all.arp_ignore=1\n",
                           "/etc/sysctl.d/50-x.conf": "-> /dev/null"})
    assert value(boot, "all") == (0, None)


def test_files_apply_in_name_order_across_directories(tmp_path):
    boot = tree(tmp_path, {"/etc/sysctl.d/10-site.conf": "net.ipv4.conf.all.arp_ignore = 1\n",
                           "/usr/lib/sysctl.d/90-vendor.conf": "net.ipv4.conf.all.arp_ignore = 0\n"})
    assert value(boot, "all") == (0, "/usr/lib/sysctl.d/90-vendor.conf:1")


def test_later_assignment_in_one_file_wins(tmp_path):
    boot = tree(tmp_path, {"/etc/sysctl.d/a.conf": "net.ipv4.conf.all.arp_ignore = 1\n"
                                                   "net.ipv4.conf.all.arp_ignore = 0\n"})
    assert value(boot, "all") == (0, "/etc/sysctl.d/a.conf:2")


def test_comments_blank_lines_and_other_files_are_ignored(tmp_path):
    boot = tree(tmp_path, {"/etc/sysctl.d/a.conf": "# net.ipv4.conf.all.arp_ignore = 1\n\n"
                                                   "; net.ipv4.conf.all.arp_ignore = 1\n"
                                                   "not an assignment\n",
                           "/etc/sysctl.d/b.conf.dpkg-old": "net.ipv4.conf.all.arp_ignore = 1\n",
                           "/etc/sysctl.d/README": "net.ipv4.conf.all.arp_ignore = 1\n"})
    assert value(boot, "all") == (0, None)


@pytest.mark.parametrize("key, path", [
    ("net.ipv4.conf.all.arp_ignore", "net/ipv4/conf/all/arp_ignore"),
    ("net/ipv4/conf/all/arp_ignore", "net/ipv4/conf/all/arp_ignore"),
    ("net.ipv4.conf.eth0/100.arp_ignore", "net/ipv4/conf/eth0.100/arp_ignore"),
    ("net/ipv4/conf/eth0.100/arp_ignore", "net/ipv4/conf/eth0.100/arp_ignore"),
    ("  net.ipv4.conf.*.arp_ignore ", "net/ipv4/conf/*/arp_ignore"),
])
def test_dot_and_slash_separators(key, path):
    assert normalize_key(key) == path


def test_vlan_interface_with_either_separator(tmp_path):
    boot = tree(tmp_path, {"/etc/sysctl.d/a.conf": "net.ipv4.conf.eth0/100.arp_ignore = 2\n"
                                                   "net/ipv4/conf/eth0.200/arp_ignore = 1\n"})
    assert value(boot, "eth0.100") == (2, "/etc/sysctl.d/a.conf:1")
    assert value(boot, "eth0.200") == (1, "/etc/sysctl.d/a.conf:2")


def test_glob_sets_every_interface(tmp_path):
    boot = tree(tmp_path, {"/etc/sysctl.d/a.conf": "net.ipv4.conf.*.arp_ignore = 1\n"})
    assert value(boot, "all") == (1, "/etc/sysctl.d/a.conf:1")
    assert value(boot, "eth0") == (1, "/etc/sysctl.d/a.conf:1")


def test_explicit_key_beats_a_later_glob(tmp_path):
    boot = tree(tmp_path, {"/etc/sysctl.d/10-a.conf": "net.ipv4.conf.eth0.arp_ignore = 2\n",
                           "/etc/sysctl.d/20-b.conf": "net.ipv4.conf.*.arp_ignore = 0\n"})
    assert value(boot, "eth0") == (2, "/etc/sysctl.d/10-a.conf:1")
    assert value(boot, "all") == (0, "/etc/sysctl.d/20-b.conf:1")


def test_dash_key_excludes_it_from_globs(tmp_path):
    boot = tree(tmp_path, {"/etc/sysctl.d/a.conf": "net.ipv4.conf.*.arp_ignore = 1\n"
                                                   "-net.ipv4.conf.all.arp_ignore\n"})
    assert value(boot, "all") == (0, None)
    assert value(boot, "eth0") == (1, "/etc/sysctl.d/a.conf:1")


def test_dash_prefix_on_an_assignment_only_silences_failures(tmp_path):
    boot = tree(tmp_path, {"/etc/sysctl.d/a.conf": "-net.ipv4.conf.all.arp_ignore = 1\n"})
    assert value(boot, "all") == (1, "/etc/sysctl.d/a.conf:1")


def test_etc_sysctl_conf_counts_only_through_the_99_link(tmp_path):
    files = {"/etc/sysctl.conf": "net.ipv4.conf.all.arp_ignore = 1\n"}
    assert value(tree(tmp_path / "nolink", files), "all") == (0, None)
    linked = dict(files, **{"/etc/sysctl.d/99-sysctl.conf": "-> ../sysctl.conf"})
    assert value(tree(tmp_path / "relative", linked), "all") == (1, "/etc/sysctl.conf:1")


def test_absolute_links_resolve_inside_the_root(tmp_path):
    boot = tree(tmp_path, {"/etc/sysctl.conf": "net.ipv4.conf.all.arp_ignore = 2\n",
                           "/etc/sysctl.d/99-sysctl.conf": "-> /etc/sysctl.conf"})
    assert value(boot, "all") == (2, "/etc/sysctl.conf:1")


def test_default_reaches_interfaces_present_at_boot_that_nothing_wrote(tmp_path):
    """The kernel copies a write to default into every interface not written explicitly
    (devinet_copy_dflt_conf); at boot nothing has written them yet."""
    boot = tree(tmp_path, {"/etc/sysctl.d/a.conf": "net.ipv4.conf.default.arp_ignore = 1\n"})
    assert value(boot, "default") == (1, "/etc/sysctl.d/a.conf:1")
    assert value(boot, "eth0") == (1, "/etc/sysctl.d/a.conf:1")
    assert boot.boot(["lo", "eth0"]).value("eth0", "arp_ignore").via == "default"


def test_a_value_the_kernel_refuses_leaves_the_value_and_is_named(tmp_path):
    boot = tree(tmp_path, {"/etc/sysctl.d/a.conf": "net.ipv4.conf.all.arp_ignore = one\n"})
    assert value(boot, "all") == (0, "/etc/sysctl.d/a.conf:1")
    assert boot.boot(["lo"]).value("all", "arp_ignore").via == "refused"


def test_a_symlink_loop_is_skipped_and_the_rest_applied(tmp_path):
    boot = tree(tmp_path, {"/etc/sysctl.d/50-x.conf": "-> 50-y.conf",
                           "/etc/sysctl.d/50-y.conf": "-> 50-x.conf",
                           "/etc/sysctl.d/60-z.conf": "net.ipv4.conf.all.arp_ignore = 1\n"})
    assert value(boot, "all") == (1, "/etc/sysctl.d/60-z.conf:1")


def test_hidden_files_are_not_read(tmp_path):
    boot = tree(tmp_path, {"/etc/sysctl.d/.90-x.conf": "net.ipv4.conf.all.arp_ignore = 1\n"})
    assert value(boot, "all") == (0, None)
