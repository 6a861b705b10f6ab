"""The L2 probe: frames, the kernel-side filter, capture, pacing, privilege."""
