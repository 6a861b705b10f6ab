"""How facts are read: the Source face over local files and commands, and over SSH."""
