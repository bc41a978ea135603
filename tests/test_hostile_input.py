"""Hostile input to `migspec run` (issue 8): the bounded line reader
(reference/script.py), the QMP front's JSON policy (reference/wire.py,
MIG-QMP-005) and output that is always JSON.

Expected values are literals: QEMU 2.4's JSON rules as its source states them
(qobject/json-lexer.c, json-streamer.c, json-parser.c), or the README's
promise (`FILE:LINE: message`, exit status 2, earlier output stands).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from migspec import cli
from migspec.reference import wire
from migspec.reference.engine import Engine
from migspec.reference.script import ScriptError, parse, read_lines, read_script, run_script

QUERY_STATUS = '{"execute": "query-status"}'
STATUS_REPLY = {"return": {"running": True, "singlestep": False, "status": "running"}}
GENERIC = "GenericError"


def strict_json(line: str) -> Any:
    """``line`` as JSON, refusing the NaN/Infinity that Python's json accepts."""

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    return json.loads(line, parse_constant=refuse)


def run_bytes(
    data: bytes, capsys: pytest.CaptureFixture[str], tmp_path: Path, *, stdin: bool = False
) -> tuple[int, list[Any], str]:
    """`migspec run` in-process on ``data`` (a file, or standard input): exit
    status, the output lines (each checked to be JSON), standard error."""
    if stdin:
        saved = sys.stdin
        sys.stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
        try:
            code = cli.main(["run", "-"])
        finally:
            sys.stdin = saved
    else:
        path = tmp_path / "s.jsonl"
        path.write_bytes(data)
        code = cli.main(["run", str(path)])
    out, err = capsys.readouterr()
    return code, [strict_json(line) for line in out.splitlines()], err


# -- the line reader -------------------------------------------------------------
@pytest.mark.parametrize("stdin", [False, True])
def test_non_utf8_bytes_are_an_error_at_their_line(
    stdin: bool, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A byte that is not UTF-8 (0xe9, Latin-1 e-acute) stops the run at its
    line with exit 2, the same for a file and for standard input (which used to
    echo it back as "\\udce9"); the line before it has run."""
    data = QUERY_STATUS.encode() + b'\n{"execute": "query-status", "id": "\xe9"}\n'
    code, out, err = run_bytes(data, capsys, tmp_path, stdin=stdin)
    where = "<stdin>" if stdin else str(tmp_path / "s.jsonl")
    assert code == 2
    assert out == [STATUS_REPLY]
    assert err == f"migspec run: {where}:2: not UTF-8: byte 0xe9 at byte 36\n"


def test_line_separators_inside_strings_are_not_line_ends(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """MIG-QMP-005: a raw U+2028 or U+0085 inside a JSON string is valid JSON
    and stays in the string (echoed in the id); lines end at \\n only, so the
    bad fourth line is reported as line 4."""
    data = (
        '{"execute": "query-status", "id": "a\u2028b"}\n'
        '{"execute": "query-status", "id": "c\u0085d"}\n'
        "# a comment with a form feed \f and a vertical tab \v in it\n"
        "{bad\n"
    ).encode()
    code, out, err = run_bytes(data, capsys, tmp_path)
    assert code == 2
    assert out == [{**STATUS_REPLY, "id": "a\u2028b"}, {**STATUS_REPLY, "id": "c\u0085d"}]
    assert err.endswith("s.jsonl:4: not JSON: expected a string as object key at column 2\n")


def test_form_feed_before_the_newline_is_not_json_whitespace() -> None:
    """QEMU's lexer knows space, tab, CR and LF as whitespace (IN_WHITESPACE);
    a form feed after the object is refused at its own line."""
    with pytest.raises(ScriptError) as caught:
        parse(QUERY_STATUS + "\n" + QUERY_STATUS + "\f\n", "t")
    assert str(caught.value) == (
        't:2: not JSON: unexpected character "\\f" after the value at column 28')


def test_crlf_line_ends_are_accepted() -> None:
    """A script written with CRLF line ends reads as with LF (CR is JSON whitespace)."""
    lines = parse(QUERY_STATUS + "\r\n\r\n" + QUERY_STATUS + "\r\n", "t")
    assert [line.number for line in lines] == [1, 3]


class Endless(io.RawIOBase):
    """An endless stream of zero bytes (like /dev/zero) that counts what is read."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = len(buffer)
        buffer[:n] = b"\0" * n
        self.read_bytes += n
        return n


def test_an_endless_line_fails_after_reading_the_limit_only() -> None:
    """An endless line fails with `line longer than N bytes` after reading
    little more than N bytes, never the whole stream."""
    raw = Endless()
    with pytest.raises(ScriptError) as caught:
        list(read_lines(io.BufferedReader(raw), "z", limit=1000))
    assert str(caught.value) == "z:1: line longer than 1000 bytes"
    assert raw.read_bytes <= 1000 + 1 + io.DEFAULT_BUFFER_SIZE


def test_a_line_of_exactly_the_limit_is_read() -> None:
    """The limit counts the bytes of the line without its newline."""
    assert list(read_lines(io.BytesIO(b"x" * 10 + b"\n" + b"y" * 10), "z", limit=10)) == [
        (1, "x" * 10), (2, "y" * 10)]
    with pytest.raises(ScriptError, match=r"^z:2: line longer than 10 bytes$"):
        list(read_lines(io.BytesIO(b"x\n" + b"y" * 11), "z", limit=10))


def test_run_dev_zero_fails_fast() -> None:
    """`migspec run /dev/zero` (an endless line): exit 2 and a clear message
    (it used to read until MemoryError)."""
    done = subprocess.run([sys.executable, "-m", "migspec", "run", "/dev/zero"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert done.stderr == "migspec run: /dev/zero:1: line longer than 1048576 bytes\n"
    assert done.stdout == ""


def test_run_with_standard_input_closed() -> None:
    """`migspec run - <&-`: a clear error and exit 2 (it was an AttributeError)."""
    done = subprocess.run([sys.executable, "-m", "migspec", "run", "-"],
                          capture_output=True, text=True, timeout=120, check=False,
                          preexec_fn=lambda: os.close(0))
    assert done.returncode == 2
    assert done.stderr == "migspec run: standard input is closed\n"


def test_output_of_earlier_lines_stands_when_a_later_line_is_not_json(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Lines are read and run one at a time: a bad third line stops the run,
    and the first two lines' replies are printed before it."""
    data = f"{QUERY_STATUS}\n{QUERY_STATUS}\n{{\n{QUERY_STATUS}\n".encode()
    code, out, err = run_bytes(data, capsys, tmp_path)
    assert code == 2
    assert out == [STATUS_REPLY, STATUS_REPLY]
    assert err.endswith("s.jsonl:3: not JSON: unexpected end of line at column 2\n")


def test_reading_is_lazy() -> None:
    """read_script yields a line before the next one is read (a later bad
    line is not seen until it is reached)."""
    lines = read_script(io.BytesIO(f"{QUERY_STATUS}\n{{bad\n".encode()), "t")
    assert next(lines).obj == {"execute": "query-status"}
    with pytest.raises(ScriptError, match=r"^t:2: not JSON"):
        next(lines)


# -- the JSON policy (MIG-QMP-005) --------------------------------------------------
@pytest.mark.parametrize(
    ("literal", "column"),
    [("NaN", 36), ("Infinity", 36), ("-Infinity", 36)],
)
def test_nan_and_infinity_are_not_json(
    literal: str, column: int, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """MIG-QMP-005: QEMU's lexer has no NaN or Infinity token; as an id they
    used to print a non-JSON output line ("id": NaN), as an argument Infinity was
    accepted. Now each stops the run at its line, nothing non-JSON is printed."""
    for line in (f'{{"execute": "query-status", "id": {literal}}}',
                 f'{{"execute": "migrate_set_downtime", "arguments": {{"value": {literal}}}}}'):
        code, out, err = run_bytes(f"{QUERY_STATUS}\n{line}\n".encode(), capsys, tmp_path)
        assert code == 2
        assert out == [STATUS_REPLY]
        assert f"s.jsonl:2: not JSON: {literal} is not a JSON value at column" in err


def test_an_infinite_id_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """MIG-QMP-005: 1e400 is infinity to strtod; QEMU 2.4 would echo it as
    `inf`, which is not JSON, so migspec refuses such an id (also inside a qmp
    or submit directive) instead of printing a line that is not JSON."""
    for line in ('{"execute": "query-status", "id": [1, 1e400]}',
                 '{"migspec": "qmp", "command": {"execute": "query-status", "id": -1e400}}',
                 '{"migspec": "submit", "command": {"execute": "query-status", "id": '
                 + "9" * 400 + "}}"):
        code, out, err = run_bytes(f"{QUERY_STATUS}\n{line}\n".encode(), capsys, tmp_path)
        assert code == 2
        assert out == [STATUS_REPLY]
        assert "s.jsonl:2: the id holds a number beyond the double range" in err


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("9223372036854775807", 9223372036854775807),
        ("-9223372036854775808", -9223372036854775808),
        ("9223372036854775808", 9223372036854775808.0),
        ("-9223372036854775809", -9223372036854775808.0),
        ("1" + "0" * 400, float("inf")),
        ("-1" + "0" * 400, float("-inf")),
        ("1e400", float("inf")),
        ("9" * 5000, float("inf")),
        ("-" + "9" * 5000, float("-inf")),
        ("1" + "0" * 19, 1e19),
        ("1e-400", 0.0),
        ("2.5", 2.5),
        ("-0", 0),
    ],
)
def test_numbers_as_qemu_reads_them(text: str, value: float) -> None:
    """MIG-QMP-005: strtoll when it fits int64, else strtod (parse_literal's
    ERANGE fall-through), so a 400-digit integer is infinity."""
    got = wire.loads(text)
    assert got == value
    # from 2^63 to 2^64-1 the double remembers the integer (QEMU 7.2 reads a uint64)
    assert type(got) is type(value) or (type(got) is wire.WideInt and type(value) is float)


@pytest.mark.parametrize(("text", "exact"), [("9223372036854775808", 1 << 63),
                                             ("18446744073709551615", (1 << 64) - 1)])
def test_a_uint64_literal_is_the_seed_double_remembering_the_integer(text: str,
                                                                     exact: int) -> None:
    """QEMU72-QMP-UINT64-LITERAL: QEMU 7.2 parses these as uint64 (strtou64)."""
    got = wire.loads(text)
    assert type(got) is wire.WideInt and got.exact == exact and got == float(exact)
    assert type(wire.loads("18446744073709551616")) is float
    assert type(wire.loads("-9223372036854775809")) is float


def test_a_400_digit_downtime_reaches_the_handler_as_infinity(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """MIG-QMP-005, MIG-DOWNTIME-001: an integer of 400 digits is no QInt, so
    QEMU 2.4 parses it with strtod (infinity); the 'T' argument takes any
    number and qmp_migrate_set_downtime (lines 821-826) has no error path: {}.
    (It used to raise OverflowError converting the Python int.)"""
    line = '{"execute": "migrate_set_downtime", "arguments": {"value": ' + "1" * 400 + "}}"
    code, out, _ = run_bytes(f"{line}\n".encode(), capsys, tmp_path)
    assert code == 0
    assert out == [{"return": {}}]


@pytest.mark.parametrize("text", ["0e5", "01", "1.", "1e", "-", ".5", "+1", "0x10"])
def test_malformed_numbers(text: str) -> None:
    """QEMU 2.4's lexer: digits after '-', '.' and 'e', no exponent after a bare
    0, no leading zeros, '+' or hex."""
    with pytest.raises(wire.WireError):
        wire.loads(text)


def test_nesting_up_to_the_limit_is_echoed_beyond_it_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """MIG-QMP-005: json-streamer.c allows 1024 open brackets (and 1024 open
    braces); an id that deep is echoed whole. One more is refused at its line
    (it used to be a RecursionError; QEMU 2.4 fails an assertion there)."""
    deep = "[" * 1024 + "]" * 1024
    ok = f'{{"execute": "query-status", "id": {deep}}}'
    bad = f'{{"execute": "query-status", "id": [{deep}]}}'
    path = tmp_path / "s.jsonl"
    path.write_text(f"{ok}\n{bad}\n", encoding="utf-8")
    code = cli.main(["run", str(path)])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ('{"return": {"running": true, "singlestep": false, "status": "running"}, '
                   f'"id": {deep}}}\n')
    assert err.endswith(
        "s.jsonl:2: not JSON: nested deeper than 1024 arrays (QEMU 2.4's MAX_NESTING) "
        "at column 1059\n")


def test_braces_and_brackets_count_separately() -> None:
    """json-streamer.c compares brace_count and bracket_count with MAX_NESTING
    one by one: 1024 of each, interleaved, is within the limit."""
    text = '{"a": [' * 1023 + "1" + "]}" * 1023
    value = wire.loads(f'{{"execute": "query-status", "id": {text}}}')
    depth = 0
    item = value["id"]
    while isinstance(item, dict):
        item, depth = item["a"][0], depth + 1
    assert (depth, item) == (1023, 1)
    with pytest.raises(wire.WireError, match="nested deeper than 1024 objects"):
        wire.loads('{"a": ' * 1025 + "1" + "}" * 1025)


def test_deeply_nested_arguments_get_a_qmp_reply(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """MIG-QMP-002: 330 nested arrays as an argument (which used to raise
    RecursionError in qmp.py's NaN check) are a value of the wrong type."""
    value = "[" * 330 + "]" * 330
    line = f'{{"execute": "migrate_set_downtime", "arguments": {{"value": {value}}}}}'
    code, out, _ = run_bytes(f"{line}\n".encode(), capsys, tmp_path)
    assert code == 0
    assert out == [{"error": {"class": GENERIC,
                              "desc": "Invalid parameter type for 'value', expected: number"}}]


def test_big_integers_from_python_are_doubles_too() -> None:
    """MIG-QMP-005: a command object built in Python (a target, a test) gets
    the same number policy as text: an int beyond int64 is a double, so a
    'T' argument of 10**400 is infinity and the command returns {}."""
    reply = Engine().execute({"execute": "migrate_set_downtime",
                              "arguments": {"value": 10**400}})
    assert reply == {"return": {}}
    assert wire.qobject_number(2**63) == 9223372036854775808.0
    assert wire.qobject_number(-(10**400)) == float("-inf")
    assert wire.qobject_number(True) is True


def test_nan_deep_inside_arguments_from_python() -> None:
    """MIG-QMP-003: a NaN 5,000 lists deep in a command object handed to the
    engine directly (not through JSON) is still "Invalid JSON syntax", found
    without recursion."""
    value: Any = float("nan")
    for _ in range(5000):
        value = [value]
    reply = Engine().execute({"execute": "migrate-set-capabilities",
                              "arguments": {"capabilities": value}})
    assert reply == {"error": {"class": GENERIC, "desc": "Invalid JSON syntax"}}


def test_duplicate_keys_last_wins_in_qmp_commands() -> None:
    """MIG-QMP-005: parse_pair stores members with qdict_put_obj, which
    replaces: of two "execute" keys the last one runs, also inside a qmp
    directive."""
    lines = parse('{"execute": "stop", "execute": "query-status", "id": 1, "id": 2}\n'
                  '{"migspec": "qmp", "command": {"execute": "stop", "execute": "query-status"}}\n')
    out = list(run_script(Engine(), lines))
    assert out == [{**STATUS_REPLY, "id": 2}, STATUS_REPLY]


def test_duplicate_keys_in_a_directive_are_refused() -> None:
    """A directive's own keys are migspec's, so a repeated one is a mistake."""
    with pytest.raises(ScriptError) as caught:
        parse('{"migspec": "advance", "ms": 5, "ms": 7}\n', "t")
    assert str(caught.value) == 't:1: a directive repeats key "ms"'


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"migspec": true}', "unknown directive true"),
        ('{"migspec": "vm", "runstate": null}', "unknown runstate null"),
        ('{"migspec": "vm", "runstate": [1, "a"]}', 'unknown runstate [1, "a"]'),
        ('{"migspec": "trace", "vm": "x"}', 'no VM named "x" (have: source)'),
        ('{"migspec": "step", "actor": ' + "[" * 1000 + "]" * 1000 + "}",
         "step actor must be 'main' or 'thread'"),
        ('{"migspec": "feed", "outcome": ' + "[" * 1000 + "]" * 1000 + "}",
         "feed outcome must be 'complete' or 'fail'"),
    ],
)
def test_messages_show_the_json_the_user_wrote(line: str, message: str) -> None:
    """A message shows a value as JSON (null, true, "x"), never as a Python
    value (None, True, 'x'), and a deep value never crashes the message."""
    with pytest.raises(ScriptError) as caught:
        list(run_script(Engine(), parse(line + "\n", "t"), "t"))
    assert str(caught.value).startswith(f"t:1: {message}")


def test_text_of_shortens_long_values() -> None:
    """A huge value in a message is cut to about 60 characters."""
    assert wire.text_of("x" * 100) == '"' + "x" * 59 + "..."


def test_dumps_never_writes_nan() -> None:
    """Output lines are JSON: dumps refuses NaN and infinity instead of
    writing them, and writes deep values that json.dumps cannot."""
    with pytest.raises(ValueError):
        wire.dumps({"id": float("inf")})
    deep: Any = 1
    for _ in range(3000):
        deep = {"a": [deep]}
    text = wire.dumps(deep)
    assert text == '{"a": [' * 3000 + "1" + "]}" * 3000


# -- command-line paths and numbers ---------------------------------------------------
def test_emit_scripts_onto_a_file_is_refused_before_exploring(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`explore --emit-scripts FILE` (or a path under a file): exit 2 with a
    one-line message, before any exploring (it used to be a traceback after the
    whole exploration)."""
    from migspec.properties import exploration

    def must_not_run(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("explored before checking --emit-scripts")

    monkeypatch.setattr(exploration, "explore", must_not_run)
    afile = tmp_path / "afile"
    afile.write_text("x", encoding="utf-8")
    for target, reason in ((afile, "is not a folder"),
                           (afile / "sub", "cannot write in")):
        assert cli.main(["explore", "--quiet", "--emit-scripts", str(target)]) == 2
        out, err = capsys.readouterr()
        assert out == ""
        assert err.startswith("migspec explore --emit-scripts: ")
        assert reason in err
        assert len(err.splitlines()) == 1


def test_docs_out_onto_a_file_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`docs --out FILE` (or a path under a file): exit 2, one line, no traceback."""
    afile = tmp_path / "afile"
    afile.write_text("x", encoding="utf-8")
    assert cli.main(["docs", "--out", str(afile)]) == 2
    assert capsys.readouterr().err == f"migspec docs: {afile} is not a folder\n"
    assert cli.main(["docs", "--out", str(afile / "sub")]) == 2
    assert capsys.readouterr().err == (
        f"migspec docs: cannot write in {afile / 'sub'}: Not a directory\n")
    assert afile.read_text(encoding="utf-8") == "x"


def test_docs_check_from_another_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`migspec docs --check` run from another folder checks the checkout's
    docs/reference (it used to look in ./docs/reference and call every file
    stale)."""
    monkeypatch.chdir(tmp_path)
    assert cli.main(["docs", "--check"]) == 0
    assert capsys.readouterr().err == ""
    assert cli.main(["docs", "--check", "--out", "nowhere"]) == 2
    assert capsys.readouterr().err == "migspec docs: nowhere is not a folder (nothing to check)\n"


def test_explore_empty_scenario_is_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    """`--scenario ""` names no scenario: an error listing the known ones (it
    used to run them all)."""
    assert cli.main(["explore", "--scenario", ""]) == 2
    err = capsys.readouterr().err
    assert err.startswith('migspec explore: unknown scenario "" (known: migrate-cancel, ')


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--max-iterations", "-5", "must be at least 1, not -5"),
        ("--max-iterations", "0", "must be at least 1, not 0"),
        ("--jobs", "0", "must be at least 1, not 0"),
        ("--jobs", "-1", "must be at least 1, not -1"),
        ("--jobs", "two", "not an integer: 'two'"),
        ("--per-path-timeout", "0", "must be a number above 0, not 0"),
        ("--per-condition-timeout", "nan", "must be a number above 0, not nan"),
    ],
)
def test_prove_numbers_must_be_positive(
    option: str, value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`migspec prove` refuses budgets and job counts below 1 with argparse's
    usage error (exit 2) instead of accepting them."""
    with pytest.raises(SystemExit) as stopped:
        cli.main(["prove", option, value])
    assert stopped.value.code == 2
    assert f"migspec prove: error: argument {option}: {message}" in capsys.readouterr().err


# -- progress of long runs -------------------------------------------------------------
class Recorder:
    """A selfcheck.Progress that writes down what it is told."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def start(self, index: int, total: int, title: str) -> None:
        self.events.append(("start", index, total, title))

    def advance(self, done: int, total: int) -> None:
        self.events.append(("advance", done, total))


def quick_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replace verify's checks by two quick ones: the seed defects' witnesses
    (which count their work) and one that crashes."""
    from migspec.properties import selfcheck

    def crashes(advance: Any = None) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(selfcheck, "CHECKS", (
        (selfcheck.defects_witnessed, "seed defects"), (crashes, "a crashing check")))


def test_verify_reports_each_check_and_its_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    """run_all tells its Progress which check starts and, where a check counts
    its work, how far it is; a crashing check is a failed result."""
    from migspec.properties import selfcheck
    from migspec.spec.defects import DEFECTS

    quick_checks(monkeypatch)
    seen = Recorder()
    results = selfcheck.run_all(seen)
    n = len(DEFECTS)
    assert seen.events == [("start", 1, 2, "seed defects"),
                           *(("advance", k, n) for k in range(1, n + 1)),
                           ("start", 2, 2, "a crashing check")]
    assert [r.ok for r in results] == [True, False]
    assert results[1].detail == "RuntimeError: boom"


def test_verify_progress_on_a_terminal_only(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`migspec verify` shows which check runs on standard error when it is a
    terminal; with --json, or when standard error is not a terminal, nothing
    extra (the JSON report alone on standard output)."""
    quick_checks(monkeypatch)
    assert cli.main(["verify", "--json"]) == 1
    out, err = capsys.readouterr()
    assert err == ""
    assert [c["name"] for c in json.loads(out)["checks"]] == [
        "seed defects differ between seed and fixed", "crashes"]
    assert cli.main(["verify"]) == 1
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert cli.main(["verify"]) == 1
    err = capsys.readouterr().err
    assert "[1/2] seed defects" in err
    assert "[2/2] a crashing check" in err


def test_prove_reports_each_function_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CrossHair's workers report each function as it is done, not only at
    the end: progress(done, total) once per function."""
    from migspec.properties import prove

    (tmp_path / "migspec_two_contracts.py").write_text(
        'def one(value: int) -> int:\n'
        '    """pre: 0 <= value <= 3\n    post: __return__ >= 0\n    """\n'
        '    return value\n\n\n'
        'def two(value: int) -> int:\n'
        '    """pre: 0 <= value <= 3\n    post: __return__ <= 3\n    """\n'
        '    return value\n', encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    calls: list[tuple[int, int]] = []
    report = prove.prove("migspec_two_contracts", jobs=2,
                         progress=lambda done, total: calls.append((done, total)))
    assert report.ok
    assert calls == [(1, 2), (2, 2)]


def test_docs_without_a_checkout_says_where_it_looked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Installed without its checkout (no pyproject.toml next to the package),
    `migspec docs` names the folder it looked in and asks for --out: exit 2."""
    monkeypatch.setattr(cli, "project_docs", lambda: tmp_path / "docs" / "reference")
    assert cli.main(["docs", "--check"]) == 2
    assert capsys.readouterr().err == (
        f"migspec docs: {tmp_path} is not a migspec checkout (the package is installed "
        "without its docs); give --out DIR\n")
