"""MIG-CACHE-001..006: an error of migrate-set-cache-size says something true
about the value asked for, whatever the environment (DEF-CACHE-ALLOC-MISREPORTED).

The property needs no knowledge of where the seed goes wrong: "is smaller
than page size" only for a value below the page size (4096), "exceeds guest
ram size" only for one above the guest's RAM. It is drawn over values, guest
sizes, an XBZRLE migration running or not and the cache allocation failing
or not (the ``xbzrle_resize_error`` knob). ``fixed`` holds it everywhere; on
``seed`` Hypothesis finds the misreported allocation failure unaided.
"""

from __future__ import annotations

from hypothesis import find, given, settings
from hypothesis import strategies as st

from migspec.reference.engine import Engine
from migspec.spec import constants as C

BELOW_PAGE = "Parameter 'cache size' expects is smaller than page size"
ABOVE_RAM = "Parameter 'cache size' expects exceeds guest ram size "

values = st.integers(C.INT64_MIN, C.INT64_MAX) | st.integers(0, 1 << 26)


def untrue(profile: str, value: int, pages: int, migrating: bool, fails: bool) -> str | None:
    """The error text of migrate-set-cache-size if it is not true of
    ``value``; None if it is (or there is no error)."""
    eng = Engine(profile)
    eng.set_env({"ram_bytes": pages * 4096, "bandwidth": 1_000_000})
    if migrating:
        eng.execute({"execute": "migrate-set-capabilities", "arguments": {
            "capabilities": [{"capability": "xbzrle", "state": True}]}})
        eng.execute({"execute": "migrate", "arguments": {"uri": "exec:cat > /dev/null"}})
        eng.advance(10)
    eng.set_env({"xbzrle_resize_error": fails})
    reply = eng.execute({"execute": "migrate-set-cache-size", "arguments": {"value": value}})
    assert reply is not None
    desc: str | None = reply.get("error", {}).get("desc")
    if desc == BELOW_PAGE and not value < C.TARGET_PAGE_SIZE:
        return desc
    if desc == ABOVE_RAM and not value > pages * 4096:
        return desc
    return None


@settings(max_examples=200, deadline=None)
@given(value=values, pages=st.integers(1, 4096), migrating=st.booleans(), fails=st.booleans())
def test_fixed_errors_are_true(value: int, pages: int, migrating: bool, fails: bool) -> None:
    """MIG-CACHE-003, MIG-CACHE-004, MIG-CACHE-006 with DEF-CACHE-NEGATIVE and
    DEF-CACHE-ALLOC-MISREPORTED repaired."""
    assert untrue("fixed", value, pages, migrating, fails) is None


def test_the_property_finds_the_seed_defect() -> None:
    """Among non-negative values (so not DEF-CACHE-NEGATIVE), Hypothesis finds
    the seed's misreported allocation failure: a migration holds the cache,
    the allocation fails, and a size a page or more is called smaller."""
    args = st.tuples(st.integers(0, 1 << 26), st.integers(1, 4096), st.booleans(),
                     st.booleans())
    found = find(args, lambda a: untrue("seed", *a) is not None,
                 settings=settings(database=None, derandomize=True, max_examples=1000))
    value, _, migrating, fails = found
    assert value >= C.TARGET_PAGE_SIZE and migrating and fails
    assert untrue("seed", *found) == BELOW_PAGE
