"""``migspec serve`` on the command line: the parser and the checks of what
was asked, each refused with one line and exit status 2."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import socket
import sys
from typing import Any

from migspec.reference import wire
from migspec.reference.profiles import PROFILES
from migspec.reference.world import DESTINATION, SOURCE
from migspec.serve.framing import MAX_MESSAGE
from migspec.serve.server import MAX_OUTPUT, Listen, ServeConfig, serve


class UsageError(ValueError):
    """Bad input on the command line."""


def add_parser(sub: Any) -> None:
    """The ``serve`` subcommand."""
    p = sub.add_parser(
        "serve", help="serve the reference engine over QMP sockets (a QEMU stand-in)",
        description="Serve the reference engine behind real QMP sockets. Prints one JSON "
        "line with the endpoints' addresses once they listen; SIGINT or SIGTERM stops it.")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--socket", metavar="PATH",
                       help="unix socket to create (0600); with --pair, an existing folder "
                       "in which source.sock and destination.sock are created")
    where.add_argument("--tcp", metavar="HOST:PORT",
                       help="TCP address (loopback unless --allow-remote); with --pair the "
                       "destination listens on PORT+1 (both ephemeral with port 0)")
    p.add_argument("--profile", choices=sorted(PROFILES), default="seed")
    p.add_argument("--pair", action="store_true",
                   help="serve a source and a destination started as with -incoming URI")
    p.add_argument("--incoming", metavar="URI", default="tcp:0:4444",
                   help="the destination's -incoming URI with --pair (default tcp:0:4444; "
                   "'defer' waits for migrate-incoming)")
    clock = p.add_mutually_exclusive_group()
    clock.add_argument("--time-scale", metavar="F", type=float, default=1.0,
                       help="virtual time runs F times as fast as real time (default 1)")
    clock.add_argument("--manual-time", action="store_true",
                       help="virtual time moves only on x-migspec-advance (and settle, step)")
    p.add_argument("--no-control", action="store_true",
                   help="refuse the x-migspec-* commands (unknown commands, as on QEMU)")
    p.add_argument("--allow-remote", action="store_true",
                   help="let --tcp bind to an address that is not loopback")
    p.add_argument("--env", metavar="KEY=VALUE", action="append", default=[],
                   help="an environment knob at start (as x-migspec-env; VALUE is JSON, or "
                   "a bare string), repeatable: --env connect=delayed-refused")
    p.add_argument("--hold", metavar="[VM:]PC", action="append", default=[],
                   help="a hold point at start (as x-migspec-hold), repeatable")
    p.add_argument("--max-message", metavar="BYTES", type=int, default=MAX_MESSAGE,
                   help=f"longest QMP message read (default {MAX_MESSAGE})")
    p.add_argument("--max-output", metavar="BYTES", type=int, default=MAX_OUTPUT,
                   help="unread output after which a connection is closed "
                   f"(default {MAX_OUTPUT})")
    p.set_defaults(func=main)


def _tcp(text: str, allow_remote: bool) -> tuple[str, int]:
    host, sep, port_text = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or int(port_text) > 65535:
        raise UsageError(f"--tcp wants HOST:PORT, not {text!r}")
    if not allow_remote:
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except socket.gaierror as err:
            raise UsageError(f"--tcp: cannot resolve {host!r}: {err.strerror}") from None
        for info in infos:
            if not ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback:
                raise UsageError(f"--tcp {host} is not a loopback address (--allow-remote "
                                 "to serve on it)")
    return host, int(port_text)


def _socket_path(path: str) -> str:
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"--socket: folder {folder} does not exist")
    if os.path.lexists(path):
        raise UsageError(f"--socket: {path} already exists")
    return path


def listens(args: argparse.Namespace) -> dict[str, Listen]:
    """Where each endpoint listens."""
    if args.tcp is not None:
        host, port = _tcp(args.tcp, args.allow_remote)
        out = {SOURCE: Listen(host=host, port=port)}
        if args.pair and port == 65535:
            raise UsageError("--tcp with --pair needs a PORT below 65535 (the destination "
                             "listens on PORT+1)")
        if args.pair:
            out[DESTINATION] = Listen(host=host, port=port + 1 if port else 0)
        return out
    if not args.pair:
        return {SOURCE: Listen(path=_socket_path(args.socket))}
    if not os.path.isdir(args.socket):
        raise UsageError(f"--socket {args.socket}: with --pair, an existing folder")
    return {SOURCE: Listen(path=_socket_path(os.path.join(args.socket, "source.sock"))),
            DESTINATION: Listen(path=_socket_path(os.path.join(args.socket,
                                                               "destination.sock")))}


def config(args: argparse.Namespace) -> ServeConfig:
    """The server's configuration from the arguments."""
    if not args.time_scale > 0 or args.time_scale == float("inf"):
        raise UsageError("--time-scale must be a positive number")
    if args.max_message < 64 or args.max_output < 1024:
        raise UsageError("--max-message must be >= 64 and --max-output >= 1024")
    env: dict[str, Any] = {}
    for item in args.env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--env wants KEY=VALUE, not {item!r}")
        try:
            env[key] = wire.loads(value)
        except wire.WireError:
            env[key] = value
    holds: dict[str, str] = {}
    for item in args.hold:
        vm, sep, pc = item.rpartition(":")
        holds[vm if sep else SOURCE] = pc
    return ServeConfig(profile=args.profile, pair=args.pair, incoming=args.incoming,
                       time_scale=args.time_scale, manual_time=args.manual_time,
                       control=not args.no_control, max_message=args.max_message,
                       max_output=args.max_output, env=env, holds=holds)


def _ready(info: dict[str, Any]) -> None:
    print(json.dumps(info), flush=True)


def main(args: argparse.Namespace) -> int:
    """Run the server until SIGINT or SIGTERM; exit status 2 on bad input."""
    try:
        cfg = config(args)
        where = listens(args)
        if cfg.pair and cfg.incoming.strip() == "":
            raise UsageError("--incoming needs a URI")
        return _run(cfg, where)
    except UsageError as err:
        print(f"migspec serve: {err}", file=sys.stderr)
        return 2


def _run(cfg: ServeConfig, where: dict[str, Listen]) -> int:
    from migspec.serve.server import ControlError

    try:
        asyncio.run(serve(cfg, where, _ready))
    except ControlError as err:  # a bad --env or --hold
        print(f"migspec serve: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"migspec serve: cannot listen: {err.strerror or err}", file=sys.stderr)
        return 2
    return 0


__all__ = ["add_parser", "main"]
