"""``migspec serve``: the reference engine behind real QMP sockets, as a QEMU
stand-in for testing management software (issue 11).

- :mod:`migspec.serve.framing`: QEMU's JSON streamer (messages from bytes);
- :mod:`migspec.serve.server`: the asyncio server (monitors, clock, routing);
- :mod:`migspec.serve.control`: the ``x-migspec-*`` commands, declared once;
- :mod:`migspec.serve.cli`: the ``serve`` subcommand.

Dependencies point serve -> reference -> spec.
"""
