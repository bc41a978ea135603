"""Mutation self-test: realistic faults planted in the reference, and which of
the suites (explorer, Hypothesis state machines, CrossHair contracts) catch each.

A mutant is a context manager that patches one place of the engine while it is
active; nothing is copied or rewritten on disk. Decision-function mutants keep
the original's contract (docstring), so CrossHair checks the faulty code
against the specification it should meet.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from unittest import mock

from migspec.reference import decisions as D
from migspec.reference import handlers as H
from migspec.reference import mainloop, qmp, thread
from migspec.reference.profiles import Profile
from migspec.reference.vm import VM, MigrationThread
from migspec.reference.world import World
from migspec.spec.capabilities import Capability
from migspec.spec.runstates import RunState
from migspec.spec.states import MigrationStatus as S

#: The unmutated decisions module's functions (contracts and signatures),
#: taken before any mutant patches the module.
_ORIGINALS = SimpleNamespace(**vars(D))


@dataclass(frozen=True)
class Mutant:
    """One planted fault."""

    id: str
    fault: str
    requirement: str
    patch: Callable[[], AbstractContextManager[None]]
    #: The decision function the fault lives in (contracts can judge it), if any.
    decision: str | None = None


def _decision(name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> Callable[
        [], AbstractContextManager[None]]:
    """Patch ``decisions.<name>`` with a faulty version that keeps its contract."""
    @contextmanager
    def patcher() -> Iterator[None]:
        original = getattr(D, name)
        faulty = make(original)
        # A fault that cannot take the function's parameters would make every
        # call raise TypeError: a broken mutant, never a catch.
        params = list(inspect.signature(original).parameters)
        try:
            inspect.signature(faulty).bind(*params)
        except TypeError as err:
            raise TypeError(f"the fault for decisions.{name} does not take its parameters "
                            f"({', '.join(params)}): {err}") from None
        faulty.__doc__ = original.__doc__
        faulty.__name__ = original.__name__
        faulty.__qualname__ = original.__qualname__
        faulty.__module__ = original.__module__
        with mock.patch.object(D, name, faulty):
            yield
    return patcher


def _obj(target: Any, name: str, make: Callable[[Any], Any]) -> Callable[
        [], AbstractContextManager[None]]:
    """Patch ``target.<name>`` with ``make(original)``, and every reference
    module that imported the same function by name (``from mainloop import
    migrate_fd_connect``): a fault in a function is a fault for all callers."""
    @contextmanager
    def patcher() -> Iterator[None]:
        original = getattr(target, name)
        faulty = make(original)
        with ExitStack() as stack:
            stack.enter_context(mock.patch.object(target, name, faulty))
            for module in _reference_modules():
                if module is not target and getattr(module, name, None) is original:
                    stack.enter_context(mock.patch.object(module, name, faulty))
            yield
    return patcher


def _reference_modules() -> list[Any]:
    """The loaded modules of the reference engine."""
    prefix = "migspec.reference."
    return [m for n, m in sorted(sys.modules.items()) if n.startswith(prefix) and m is not None]


def _handler(command: str, make: Callable[[H.Handler], H.Handler]) -> Callable[
        [], AbstractContextManager[None]]:
    """Patch the QMP handler of ``command``."""
    @contextmanager
    def patcher() -> Iterator[None]:
        with mock.patch.dict(H.HANDLERS, {command: make(H.HANDLERS[command])}):
            yield
    return patcher


# -- faulty pieces ------------------------------------------------------------------
def _cancel_any_state(orig: H.Handler) -> H.Handler:
    def handler(world: World, vm: VM, args: dict[str, Any]) -> None:
        if vm.s.state not in (S.NONE, S.CANCELLING):  # no compare-and-swap, no state test
            vm.s.state = S.CANCELLING
            world.migration_event(vm, S.CANCELLING)
    return handler


def _fd_name_kept(orig: H.Handler) -> H.Handler:
    def handler(world: World, vm: VM, args: dict[str, Any]) -> Any:
        kept = list(vm.fds)
        try:
            return orig(world, vm, args)
        finally:
            vm.fds = kept  # monitor_get_fd forgets nothing
    return handler


def _params_partial(orig: H.Handler) -> H.Handler:
    def handler(world: World, vm: VM, args: dict[str, Any]) -> None:
        for name, value in args.items():  # sets each before checking the next
            orig(world, vm, {name: value})
    return handler


def _query_none_status(orig: H.Handler) -> H.Handler:
    def handler(world: World, vm: VM, args: dict[str, Any]) -> Any:
        info = orig(world, vm, args)
        return info or {"status": "none"}
    return handler


def _query_setup_total_time(orig: H.Handler) -> H.Handler:
    def handler(world: World, vm: VM, args: dict[str, Any]) -> Any:
        info = orig(world, vm, args)
        if info.get("status") == "setup":
            info["total-time"] = world.ms - vm.s.total_time
        return info
    return handler


def _incoming_once_kept(orig: H.Handler) -> H.Handler:
    def handler(world: World, vm: VM, args: dict[str, Any]) -> Any:
        try:
            return orig(world, vm, args)
        finally:
            vm.incoming_once = True
    return handler


def _blocker_oldest(orig: H.Handler) -> H.Handler:
    def handler(world: World, vm: VM, args: dict[str, Any]) -> Any:
        vm.blockers.reverse()
        try:
            return orig(world, vm, args)
        finally:
            vm.blockers.reverse()
    return handler


def _cancel_no_shutdown(orig: H.Handler) -> H.Handler:
    def handler(world: World, vm: VM, args: dict[str, Any]) -> None:
        if D.cancel_outcome(vm.s.state) != vm.s.state:
            world.set_state(vm, vm.s.state, "cancel")
    return handler


def _incoming_setup_gated(orig: Callable[[World, VM, str], None]) -> Callable[
        [World, VM, str], None]:
    def start(world: World, vm: VM, uri: str) -> None:
        emit = world.emit

        def gated(target: VM, event: str, data: dict[str, Any] | None = None) -> None:
            if event != "MIGRATION" or target.s.enabled_capabilities[Capability.EVENTS]:
                emit(target, event, data)
        setattr(world, "emit", gated)  # noqa: B010 - an instance attribute shadows the method
        try:
            orig(world, vm, uri)
        finally:
            del world.emit
    return start


def _skip_trigger(*triggers: str) -> Callable[[Any], Any]:
    def make(orig: Callable[[World, VM, S, str], bool]) -> Callable[[World, VM, S, str], bool]:
        def set_state(self: World, vm: VM, expected: S, trigger: str) -> bool:
            if trigger in triggers:
                return False
            return orig(self, vm, expected, trigger)
        return set_state
    return make


def _no_setup_active(orig: Any) -> Any:
    def cas(world: World, vm: VM, t: MigrationThread, expected: S, trigger: str,
            after: str) -> None:
        if trigger == "setup_done":
            t.pc = after
            return
        orig(world, vm, t, expected, trigger, after)
    return cas


def _final_wrap(before: Callable[[VM, MigrationThread], None] | None = None,
                after: Callable[[VM, MigrationThread], None] | None = None) -> Callable[
        [Any], Any]:
    def make(orig: Callable[[World, VM, MigrationThread], None]) -> Any:
        def final(world: World, vm: VM, t: MigrationThread) -> None:
            if before is not None:
                before(vm, t)
            orig(world, vm, t)
            if after is not None:
                after(vm, t)
        return final
    return make


def _forget(vm: VM, t: MigrationThread) -> None:
    t.old_vm_running = False


def _unschedule(vm: VM, t: MigrationThread) -> None:
    vm.scheduled_bhs.clear()


def _no_postmigrate(orig: Any) -> Any:
    def runstate_set(self: World, vm: VM, new: RunState) -> None:
        if new == RunState.POSTMIGRATE and vm.runstate == RunState.FINISH_MIGRATE:
            return
        orig(self, vm, new)
    return runstate_set


def _expected_downtime_units(orig: Any) -> Any:
    def connect(world: World, vm: VM, fid: int) -> None:
        orig(world, vm, fid)
        vm.s.expected_downtime = vm.max_downtime // 1000
    return connect


def _cleanup_no_close(orig: Any) -> Any:
    def after_join(world: World, vm: VM) -> None:
        vm.s.file = None  # forgets the file without closing it
        orig(world, vm)
    return after_join


@contextmanager
def _events_atomic() -> Iterator[None]:
    original = Profile.repairs

    def repairs(self: Profile, defect_id: str) -> bool:
        return defect_id == "DEF-EVENT-ORDER" or original(self, defect_id)
    with mock.patch.object(Profile, "repairs", repairs):
        yield


def _event_ungated(orig: Any) -> Any:
    def migration_event(self: World, vm: VM, status: S) -> None:
        self.emit(vm, "MIGRATION", {"status": str(status)})
    return migration_event


MUTANTS: tuple[Mutant, ...] = (
    Mutant("M01-cancel-any-state", "migrate_cancel assigns CANCELLING in any state but "
           "none, without the compare-and-swap", "MIG-CANCEL-001",
           _handler("migrate_cancel", _cancel_any_state)),
    Mutant("M02-cleanup-keeps-cancelling", "cleanup never moves CANCELLING to CANCELLED",
           "MIG-CLEANUP-004",
           _decision("cleanup_decision", lambda o: lambda st: o(st)[:2] + (False,)),
           "cleanup_decision"),
    Mutant("M03-compress-level-10", "compress-level accepts 10 (off by one)", "MIG-PARAMS-002",
           _decision("parameter_in_range", lambda o: lambda d, v: o(d, v) or (
               d.name == "compress-level" and v == d.maximum + 1)), "parameter_in_range"),
    Mutant("M04-threads-0", "compress-threads and decompress-threads accept 0",
           "MIG-PARAMS-003",
           _decision("parameter_in_range", lambda o: lambda d, v: o(d, v) or (
               d.name != "compress-level" and v == d.minimum - 1)), "parameter_in_range"),
    Mutant("M05-event-ungated", "MIGRATION events sent without the events capability",
           "MIG-EVENT-001", _obj(World, "migration_event", _event_ungated)),
    Mutant("M06-autostart-ignored", "the incoming run-state rule ignores autostart",
           "MIG-INCOMING-008",
           _decision("incoming_runstate", lambda o: lambda r, s, a: o(r, s, True)),
           "incoming_runstate"),
    Mutant("M07-events-atomic", "events sent atomically with the state change (hides the "
           "seed's event race)", "MIG-SETSTATE-002", _events_atomic),
    Mutant("M08-migrate-while-cancelling", "migrate accepted while cancelling",
           "MIG-MIGRATE-001",
           _decision("migrate_precheck", lambda o: lambda st, *a: o(
               S.FAILED if st == S.CANCELLING else st, *a)), "migrate_precheck"),
    Mutant("M09-migrate-while-inmigrate", "migrate accepted on a waiting destination",
           "MIG-MIGRATE-002",
           _decision("migrate_precheck", lambda o: lambda st, inm, *a: o(st, False, *a)),
           "migrate_precheck"),
    Mutant("M10-oldest-blocker", "migrate reports the oldest blocker, not the newest",
           "MIG-BLOCKER-001", _handler("migrate", _blocker_oldest)),
    Mutant("M11-caps-while-active", "capabilities can change while active",
           "MIG-CAPS-002",
           _decision("capabilities_refused", lambda o: lambda st, r: st == S.SETUP or (
               r and st == S.CANCELLING)), "capabilities_refused"),
    Mutant("M12-negative-speed-kept", "a negative speed is stored as given", "MIG-SPEED-001",
           _decision("clamp_speed", lambda o: lambda v: v), "clamp_speed"),
    Mutant("M13-xfer-ratio-100", "the rate limit per window is bandwidth/100",
           "MIG-SPEED-002", _decision("xfer_limit", lambda o: lambda b, r=False: b // 100),
           "xfer_limit"),
    Mutant("M14-downtime-in-ms", "migrate_set_downtime scales by 1e6 (ms) not 1e9",
           "MIG-DOWNTIME-001",
           _decision("downtime_ns", lambda o: lambda s, r: o(s / 1000, r)), "downtime_ns"),
    Mutant("M15-cache-not-pow2", "the cache size is stored as given, not pow2floor",
           "MIG-CACHE-001",
           _decision("cache_size_decision", lambda o: lambda v, ram, r, *a, **k: (
               o(v, ram, r, *a, **k)[0], v)), "cache_size_decision"),
    Mutant("M16-cache-equal-ram-refused", "a cache as large as the RAM is refused",
           "MIG-CACHE-003",
           _decision("cache_size_decision", lambda o: lambda v, ram, r, *a, **k: (
               ("cache_above_ram", 0) if v == ram else o(v, ram, r, *a, **k))),
           "cache_size_decision"),
    Mutant("M17-unknown-uri-stays-setup", "an unknown URI leaves the migration in setup",
           "MIG-MIGRATE-008", _obj(World, "set_state", _skip_trigger("uri_unknown"))),
    Mutant("M18-connect-error-ignored", "a connect error leaves the migration in setup",
           "MIG-FDERROR-001",
           _obj(World, "set_state", _skip_trigger("connect_error", "connect_error_sync"))),
    Mutant("M19-no-setup-to-active", "the thread never moves setup to active",
           "MIG-THREAD-002", _obj(thread, "_cas", _no_setup_active)),
    Mutant("M20-no-postmigrate", "a completed source stays in finish-migrate",
           "MIG-THREAD-009", _obj(World, "runstate_set", _no_postmigrate)),
    Mutant("M21-no-restart", "a failed migration does not restart a guest that ran",
           "MIG-THREAD-010", _obj(thread, "_final", _final_wrap(before=_forget))),
    Mutant("M22-no-cleanup-scheduled", "the thread never schedules the cleanup bottom half",
           "MIG-THREAD-011", _obj(thread, "_final", _final_wrap(after=_unschedule))),
    Mutant("M23-query-none-status", "query-migrate in none reports a status",
           "MIG-QUERY-001", _handler("query-migrate", _query_none_status)),
    Mutant("M24-query-setup-total-time", "query-migrate in setup reports total-time",
           "MIG-QUERY-002", _handler("query-migrate", _query_setup_total_time)),
    Mutant("M25-incoming-setup-gated", "the incoming 'setup' event needs the capability",
           "MIG-EVENT-003",
           _obj(H, "qemu_start_incoming_migration", _incoming_setup_gated)),
    Mutant("M26-incoming-once-kept", "migrate-incoming never records that it started",
           "MIG-INCOMING-011", _handler("migrate-incoming", _incoming_once_kept)),
    Mutant("M27-global-state-needed-inverted", "the global-state section is sent exactly "
           "when it should not be", "MIG-GLOBAL-002",
           _decision("global_state_needed", lambda o: lambda opt, rs: not o(opt, rs)),
           "global_state_needed"),
    Mutant("M28-params-partial", "migrate-set-parameters sets values before checking the "
           "rest", "MIG-PARAMS-001", _handler("migrate-set-parameters", _params_partial)),
    Mutant("M29-expected-downtime-units", "expected-downtime at connect in microseconds",
           "MIG-CONNECT-001", _obj(mainloop, "migrate_fd_connect", _expected_downtime_units)),
    Mutant("M30-cancel-no-shutdown", "migrate_cancel does not shut the socket down",
           "MIG-CANCEL-002", _handler("migrate_cancel", _cancel_no_shutdown)),
    Mutant("M31-cleanup-leaks-file", "cleanup forgets the file without closing it",
           "MIG-CLEANUP-002", _obj(mainloop, "cleanup_after_join", _cleanup_no_close)),
    Mutant("M32-cancel-outcome-keeps-setup", "cancel leaves a migration in setup alone",
           "MIG-CANCEL-001",
           _decision("cancel_outcome", lambda o: lambda st: st if st == S.SETUP else o(st)),
           "cancel_outcome"),
    Mutant("M33-post-load-accepts-any-name", "global_state_post_load takes a name that is "
           "no run state for 'running' instead of failing the load", "MIG-DEST-002",
           _decision("global_state_post_load", lambda o: lambda rs, t: (
               o(rs, t) if o(rs, t)[0] is not None else (RunState.RUNNING, o(rs, t)[1]))),
           "global_state_post_load"),
    Mutant("M34-fd-name-kept", "migrate fd:NAME leaves the name with the monitor",
           "MIG-MIGRATE-010", _handler("migrate", _fd_name_kept)),
    Mutant("M35-id-double-verbatim", "a double in an id is echoed as sent, not as '%f' prints it",
           "MIG-QMP-007", _obj(qmp, "echo_id", lambda o: lambda ident, profile: ident)),
)

MUTANT_BY_ID: dict[str, Mutant] = {m.id: m for m in MUTANTS}


@contextmanager
def applied(mutant: Mutant) -> Iterator[None]:
    """The reference with ``mutant``'s fault in place."""
    with ExitStack() as stack:
        stack.enter_context(mutant.patch())
        yield


# -- the suites as detectors ------------------------------------------------------
def explorer_detects() -> str | None:
    """The explorer's verdict: the first problem found (fixed profile first,
    it is the smaller), or None."""
    from migspec.properties.exploration import explore
    from migspec.properties.scenarios import SCENARIOS

    for profile in ("fixed", "seed"):
        for scenario in SCENARIOS:
            summary = explore([scenario], [profile])
            if summary.problems:
                return summary.problems[0]
    return None


def _contracted(name: str, impl: Callable[..., Any], workdir: str) -> Callable[..., Any]:
    """A real ``def`` with the original's signature and contract (docstring) whose
    body calls the faulty ``impl``, written to a file so CrossHair can read it."""
    import importlib.util
    import inspect
    import pathlib
    import sys

    original = getattr(_ORIGINALS, name)
    sig = inspect.signature(original)
    params = ", ".join(sig.parameters)
    doc = (inspect.getdoc(original) or "").replace('"""', "'''")
    lines = [
        "from migspec.reference.decisions import *  # noqa: F403",
        "from migspec.reference.decisions import _SETUP_OR_ACTIVE, C, math  # noqa: F401",
        "",
        f"def {name}{sig}:",
        '    """',
        *("    " + line for line in doc.splitlines()),
        '    """',
        f"    return _impl({params})",
        "",
    ]
    path = pathlib.Path(workdir) / f"mutant_{name}.py"
    path.write_text("\n".join(lines))
    spec = importlib.util.spec_from_file_location(f"mutant_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    module.__dict__["_impl"] = impl
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    fn: Callable[..., Any] = getattr(module, name)
    return fn


def contracts_detect(mutant: Mutant, max_iterations: int = 200) -> str | None:
    """CrossHair on the faulty decision function against the original's contract."""
    if mutant.decision is None:
        return None
    import tempfile

    from crosshair.core_and_libs import AnalysisKind, analyze_function
    from crosshair.options import AnalysisOptionSet

    options = AnalysisOptionSet(
        analysis_kind=[AnalysisKind.PEP316], max_iterations=max_iterations,
        per_condition_timeout=60.0, per_path_timeout=5.0,
    )
    with applied(mutant), tempfile.TemporaryDirectory() as workdir:
        fn = _contracted(mutant.decision, getattr(D, mutant.decision), workdir)
        for checkable in analyze_function(fn, options):
            for message in checkable.analyze():
                if message.state.name in ("POST_FAIL", "EXEC_ERR", "POST_ERR"):
                    return f"{message.state.name}: {message.message}"
    return None


Detector = Callable[[Mutant], str | None]

#: The environment variable naming the Hypothesis profile of the mutants run.
MUTANTS_PROFILE_VAR = "MIGSPEC_MUTANTS_PROFILE"


def mutants_profile() -> str:
    """The Hypothesis profile ``$MIGSPEC_MUTANTS_PROFILE`` names (default ``ci``);
    ValueError naming the known profiles for any other name, so a bad name
    is refused before any mutant runs."""
    import os

    from migspec.properties.hypothesis_profiles import CI, PROFILES, selected

    name = os.environ.get(MUTANTS_PROFILE_VAR) or CI
    try:
        return selected(name)
    except ValueError:
        raise ValueError(
            f"{MUTANTS_PROFILE_VAR}={name!r}: unknown Hypothesis profile "
            f"(known: {', '.join(sorted(PROFILES))})"
        ) from None


def default_detectors() -> dict[str, Detector]:
    """Every suite available: explorer, Hypothesis (if installed here), contracts.
    ValueError if ``$MIGSPEC_MUTANTS_PROFILE`` names no profile."""
    detectors: dict[str, Detector] = {
        "explorer": lambda m: _under(m, explorer_detects),
        "contracts": contracts_detect,
    }
    try:
        stateful = importlib.import_module("migspec.properties.stateful")
    except ImportError:
        return detectors
    profile = mutants_profile()
    check: Callable[[str], str | None] = stateful.mutant_detector
    detectors["hypothesis"] = lambda m: _under(m, lambda: check(profile))
    return detectors


def _under(mutant: Mutant, check: Callable[[], str | None]) -> str | None:
    with applied(mutant):
        return check()


@dataclass
class MutantResult:
    """What each suite said about one mutant: its verdicts (a catch) and the
    suites that failed to give one (an error, never a catch)."""

    mutant: Mutant
    caught_by: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def caught(self) -> bool:
        """At least one suite caught it."""
        return bool(self.caught_by)


#: No fault at all: the control run of every suite.
CONTROL = Mutant("control", "none: the unmodified reference", "-", nullcontext)


def control(detectors: dict[str, Detector]) -> dict[str, str]:
    """Each suite on the unmodified reference (:data:`CONTROL`): {suite: what it
    said} for every suite that reports a problem there or raises. Such a suite
    would "catch" every mutant; its verdicts on mutants are errors instead.
    (The contracts suite judges only a mutant's own decision function, so its
    control says nothing; `migspec prove` confirms every contract of the
    unmodified functions.)"""
    broken: dict[str, str] = {}
    for name, detect in detectors.items():
        try:
            verdict = detect(CONTROL)
        except Exception as err:  # the suite cannot run at all
            broken[name] = f"{type(err).__name__}: {err}"
            continue
        if verdict:
            broken[name] = verdict
    return broken


def run(mutants: tuple[Mutant, ...] = MUTANTS,
        detectors: dict[str, Detector] | None = None,
        progress: Callable[[MutantResult], None] | None = None) -> list[MutantResult]:
    """Apply each mutant and run every detector; the results in catalogue order.

    Every suite first runs on the unmodified reference (:func:`control`); one
    that reports a problem there gives no verdicts. A detector that raises
    has no verdict on that mutant: the exception is
    recorded in :attr:`MutantResult.errors` and does not count as a catch
    (a suite that cannot run says nothing about the fault)."""
    chosen = detectors if detectors is not None else default_detectors()
    broken = control(chosen)
    results: list[MutantResult] = []
    for mutant in mutants:
        caught: dict[str, str] = {}
        errors: dict[str, str] = {}
        for name, detect in chosen.items():
            if name in broken:
                errors[name] = f"no verdict: on the unmodified reference it said {broken[name]}"
                continue
            try:
                verdict = detect(mutant)
            except Exception as err:  # the detector failed: an error, not a catch
                errors[name] = f"{type(err).__name__}: {err}"
                continue
            if verdict:
                caught[name] = verdict
        result = MutantResult(mutant, caught, errors)
        results.append(result)
        if progress is not None:
            progress(result)
    return results
