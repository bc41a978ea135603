"""The QMP front (reference/qmp.py): a NaN anywhere in a command is a JSON
syntax error, nested values included."""

from __future__ import annotations

import pytest
from support import GENERIC, new_engine


@pytest.mark.parametrize(
    "capabilities",
    [[float("nan")], [{"capability": "events", "state": True, "x": [1, float("nan")]}]],
)
def test_nan_inside_a_list_is_not_json(capabilities: list[object]) -> None:
    """MIG-QMP-003, MIG-CAPS-001: NaN is no JSON token wherever it appears, so a
    command carrying one inside a list never reaches the visitor or the
    handler: "Invalid JSON syntax", and the capabilities are unchanged."""
    eng = new_engine()
    reply = eng.execute({"execute": "migrate-set-capabilities",
                         "arguments": {"capabilities": capabilities}})
    assert reply == {"error": {"class": GENERIC, "desc": "Invalid JSON syntax"}}
    assert not any(eng.vm().s.enabled_capabilities.values())
