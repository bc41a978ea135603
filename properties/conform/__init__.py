"""The conformance harness: ``migspec conform``.

Drives an implementation (the in-process reference, a running QMP endpoint,
or a ``qemu-system-x86_64`` the harness launches) through deterministic
scenarios (:mod:`.scenarios`), records what a client saw as a trace, and
judges every trace by trace validation against a profile
(:mod:`migspec.properties.tracecheck`): a verdict per requirement ID.
"""
