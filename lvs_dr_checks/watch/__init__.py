"""lvs-dr-watch: the wire watched all the time, each VIP's timeline, and the sinks that carry
its verdict to monitoring (docs/watch.md)."""
