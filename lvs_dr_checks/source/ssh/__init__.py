"""The host of -H over SSH: ssh_config (config), host keys (known_hosts), the connection
(connect) and the Source over SFTP and exec (sftp)."""
