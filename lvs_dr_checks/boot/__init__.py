"""What a reboot brings back: the boot tools' models (addresses, sysctl files)."""
