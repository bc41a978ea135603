"""Splitting a QMP byte stream into messages, as QEMU 2.4's JSON streamer
does (``qobject/json-streamer.c``, ``json-lexer.c``), with a bound.

The lexer turns bytes into tokens; the streamer counts open braces and
brackets over the tokens and hands a message to the parser when both counts
are back at zero after a token (so a number, keyword or string at the top
level is a message of its own), when either count goes below zero, or at a
lexer error (``JSON_ERROR`` -> ``out_emit_bad``: the message is answered
"Invalid JSON syntax", the counts start over and the lexer starts afresh
after the offending byte). Whitespace between tokens is skipped.

This module keeps only what the framing needs of the lexer: strings (double-
and single-quoted, with their escapes: ``\\b \\f \\n \\r \\t \\/ \\\\ \\' \\"``
and ``\\uXXXX``; a NUL byte ends in an error), the six operators, and runs of
number and keyword characters. The message text then goes through the
project's one JSON policy, :func:`migspec.reference.wire.decode`, which
refuses what QEMU's parser refuses.

The bound: QEMU 2.4 gives up on a message past ``MAX_TOKEN_SIZE`` (64 MiB);
here the bound is the server's ``max_message`` (1 MiB by default): past it
the message is answered "Invalid JSON syntax", its bytes are dropped and the
counts start over where the reader stands, as QEMU's streamer does (so the
rest of that message is read as new input). Memory per client stays within
the bound.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Default bound on one message, bytes.
MAX_MESSAGE = 1 << 20

_WHITESPACE = frozenset(b" \t\r\n")
_OPEN = {ord("{"): 0, ord("["): 1}
_CLOSE = {ord("}"): 0, ord("]"): 1}
_OPERATORS = frozenset(b",:")
# Bytes that may start a number or keyword token ([IN_START] of json-lexer.c).
_SCALAR_START = frozenset(b"-0123456789abcdefghijklmnopqrstuvwxyz")
# Bytes that continue one (digits, '.', 'e'/'E', signs, lower-case letters).
_SCALAR = re.compile(rb"[-+.0-9a-zE]*")
_ESCAPES = frozenset(b"bfnrt/\\'\"")
_HEX = frozenset(b"0123456789abcdefABCDEF")
# In a string: the next quote, backslash or NUL.
_STOP = {ord('"'): re.compile(rb'["\\\x00]'), ord("'"): re.compile(rb"['\\\x00]")}

_START, _STRING, _ESCAPE, _UNICODE, _SCALAR_RUN = range(5)


@dataclass(frozen=True)
class Message:
    """One message: its bytes, or ``None`` when the streamer gave up on it
    (a lexer error, or past the bound)."""

    data: bytes | None


class Framer:
    """Incremental splitter: :meth:`feed` bytes, get the messages they end."""

    def __init__(self, max_message: int = MAX_MESSAGE) -> None:
        self.max_message = max_message
        self._buf = bytearray()
        self._depth = [0, 0]  # braces, brackets
        self._state = _START
        self._quote = 0
        self._hex_left = 0

    @property
    def pending(self) -> int:
        """Bytes of the message being read."""
        return len(self._buf)

    def _reset(self) -> None:
        self._buf.clear()
        self._depth = [0, 0]

    def _emit(self, out: list[Message], good: bool) -> None:
        out.append(Message(bytes(self._buf) if good else None))
        self._reset()

    def feed(self, data: bytes) -> list[Message]:
        """The messages that ``data`` completes, in order."""
        out: list[Message] = []
        buf = self._buf
        i, n = 0, len(data)
        while i < n:
            state = self._state
            if state == _STRING:
                # Copy at most up to one byte past the bound, so the bound is met
                # at the same byte however the stream is cut into chunks.
                room = i + self.max_message + 1 - len(buf)
                m = _STOP[self._quote].search(data, i, room)
                end = min(n, room) if m is None else m.start()
                buf += data[i:end]
                i = end
                if m is not None:
                    byte = data[i]
                    i += 1
                    if byte == 0:  # NUL: not a string byte ([IN_DQ_STRING] is 1-0xFF)
                        self._state = _START
                        self._emit(out, False)
                        continue
                    buf.append(byte)
                    if byte == ord("\\"):
                        self._state = _ESCAPE
                    else:
                        self._state = _START
                        self._token_done(out)
            elif state == _ESCAPE:
                byte = data[i]
                i += 1
                buf.append(byte)
                if byte == ord("u"):
                    self._state, self._hex_left = _UNICODE, 4
                elif byte in _ESCAPES:
                    self._state = _STRING
                else:
                    self._state = _START
                    self._emit(out, False)
            elif state == _UNICODE:
                byte = data[i]
                i += 1
                buf.append(byte)
                if byte not in _HEX:
                    self._state = _START
                    self._emit(out, False)
                    continue
                self._hex_left -= 1
                if not self._hex_left:
                    self._state = _STRING
            elif state == _SCALAR_RUN:
                room = i + self.max_message + 1 - len(buf)
                m = _SCALAR.match(data, i, room)
                assert m is not None
                buf += data[i:m.end()]
                i = m.end()
                if i < min(n, room):  # the run ended before the chunk did
                    self._state = _START
                    self._token_done(out)
            else:
                byte = data[i]
                i += 1
                if byte in _WHITESPACE:
                    if buf:
                        buf.append(byte)
                    continue
                buf.append(byte)
                if byte == ord('"') or byte == ord("'"):
                    self._state, self._quote = _STRING, byte
                elif byte in _OPEN:
                    self._depth[_OPEN[byte]] += 1
                elif byte in _CLOSE:
                    self._depth[_CLOSE[byte]] -= 1
                    self._token_done(out)
                elif byte in _OPERATORS:
                    self._token_done(out)
                elif byte in _SCALAR_START:
                    self._state = _SCALAR_RUN
                else:  # a byte no token starts with: JSON_ERROR
                    self._emit(out, False)
            if len(buf) > self.max_message:
                self._emit(out, False)
        return out

    def _token_done(self, out: list[Message]) -> None:
        braces, brackets = self._depth
        if braces < 0 or brackets < 0 or (braces == 0 and brackets == 0):
            self._emit(out, True)
