"""The QMP error catalogue: every error a client can get, with class and exact text.

QEMU 2.4 reports almost every error with ``error_setg``, so the class is
``GenericError``; ``QERR_*`` macros are printf templates that the catalogue
expands here exactly (``qapi/qmp/qerror.h`` of QEMU 2.4).
"""

from __future__ import annotations

from dataclasses import dataclass

# QEMU 2.4 qerror.h templates, as Python format strings.
QERR_MIGRATION_ACTIVE = "There's a migration process in progress"
QERR_INVALID_PARAMETER_VALUE = "Parameter '{0}' expects {1}"
QERR_INVALID_PARAMETER = "Invalid parameter '{0}'"
QERR_INVALID_PARAMETER_TYPE = "Invalid parameter type for '{0}', expected: {1}"
QERR_MISSING_PARAMETER = "Parameter '{0}' is missing"
#: Spelled out in monitor.c (class CommandNotFound), not a qerror.h macro in 2.4.
QERR_COMMAND_NOT_FOUND = "The command {0} has not been found"
QERR_QMP_BAD_INPUT_OBJECT = "Expected '{0}' in QMP input"
QERR_QMP_BAD_INPUT_OBJECT_MEMBER = "QMP input object member '{0}' expects '{1}'"
QERR_QMP_EXTRA_MEMBER = "QMP input object member '{0}' is unexpected"
QERR_JSON_PARSING = "Invalid JSON syntax"

GENERIC = "GenericError"
COMMAND_NOT_FOUND = "CommandNotFound"


@dataclass(frozen=True)
class ErrorDecl:
    """One error a QMP client can see."""

    key: str
    error_class: str
    template: str
    lines: str
    requirement: str

    def text(self, *args: object) -> str:
        """The exact description, with the template's arguments filled in."""
        return self.template.format(*args)


def _value(name: str, what: str) -> str:
    return QERR_INVALID_PARAMETER_VALUE.format(name, what)


ERRORS: tuple[ErrorDecl, ...] = (
    ErrorDecl("migration_active", GENERIC, QERR_MIGRATION_ACTIVE, "474-477,708-713",
              "MIG-MIGRATE-001"),
    ErrorDecl("guest_inmigrate", GENERIC, "Guest is waiting for an incoming migration",
              "714-717", "MIG-MIGRATE-002"),
    ErrorDecl("state_blocked", GENERIC, "State blocked by non-migratable device '{0}'",
              "719-721 (savevm.c qemu_savevm_state_blocked)", "MIG-MIGRATE-003"),
    ErrorDecl("blocker", GENERIC, "{0}", "723-726", "MIG-BLOCKER-001"),
    ErrorDecl("uri_invalid", GENERIC, _value("uri", "a valid migration protocol"), "750-755",
              "MIG-MIGRATE-008"),
    ErrorDecl("connect_failed", GENERIC, "{0}", "757-760", "MIG-FDERROR-001"),
    ErrorDecl("param_range", GENERIC, QERR_INVALID_PARAMETER_VALUE, "494-512",
              "MIG-PARAMS-001"),
    ErrorDecl("cache_truncation", GENERIC, _value("cache size", "exceeding address space"),
              "774-779", "MIG-CACHE-002"),
    ErrorDecl("cache_above_ram", GENERIC, _value("cache size", "exceeds guest ram size "),
              "781-786", "MIG-CACHE-003"),
    ErrorDecl("cache_below_page", GENERIC, _value("cache size", "is smaller than page size"),
              "788-793", "MIG-CACHE-004"),
    ErrorDecl("incoming_not_deferred", GENERIC, "For use with '-incoming defer'", "678-681",
              "MIG-INCOMING-010"),
    ErrorDecl("incoming_already_started", GENERIC,
              "The incoming migration has already been started", "682-684",
              "MIG-INCOMING-011"),
    ErrorDecl("incoming_already_deferred", GENERIC, "Incoming migration already deferred",
              "228-234", "MIG-INCOMING-003"),
    ErrorDecl("incoming_unknown_protocol", GENERIC, "unknown migration protocol: {0}",
              "257-259", "MIG-INCOMING-004"),
    ErrorDecl("needs_reset", GENERIC, "Resetting the Virtual Machine is required", "qmp.c",
              "MIG-VM-003"),
    ErrorDecl("not_finalized", GENERIC, "Migration is not finalized yet",
              "qmp.c (later QEMU; the repair of DEF-CONT-DURING-COMPLETION)", "MIG-VM-003"),
    ErrorDecl("cache_alloc_failed", GENERIC, "Failed to allocate page cache",
              "page_cache.c (QEMU 7.2 page_cache.c:76; the repair of DEF-CACHE-ALLOC-MISREPORTED)",
              "MIG-CACHE-006"),
    # Errors of the QMP layer (monitor.c and the QAPI input visitor of QEMU 2.4).
    ErrorDecl("command_not_found", COMMAND_NOT_FOUND, QERR_COMMAND_NOT_FOUND, "monitor.c",
              "MIG-QMP-001"),
    ErrorDecl("negotiation_complete", COMMAND_NOT_FOUND,
              "Capabilities negotiation is already complete, command '{0}' ignored",
              "monitor.c", "MIG-QMP-004"),
    ErrorDecl("negotiation_expected", COMMAND_NOT_FOUND,
              "Expecting capabilities negotiation with 'qmp_capabilities' before command '{0}'",
              "monitor.c", "MIG-QMP-006"),
    ErrorDecl("invalid_parameter", GENERIC, QERR_INVALID_PARAMETER, "monitor.c",
              "MIG-QMP-002"),
    ErrorDecl("invalid_parameter_type", GENERIC, QERR_INVALID_PARAMETER_TYPE, "monitor.c",
              "MIG-QMP-002"),
    ErrorDecl("missing_parameter", GENERIC, QERR_MISSING_PARAMETER, "monitor.c",
              "MIG-QMP-002"),
    ErrorDecl("bad_input_object", GENERIC, QERR_QMP_BAD_INPUT_OBJECT, "monitor.c",
              "MIG-QMP-003"),
    ErrorDecl("bad_input_member", GENERIC, QERR_QMP_BAD_INPUT_OBJECT_MEMBER, "monitor.c",
              "MIG-QMP-003"),
    ErrorDecl("extra_member", GENERIC, QERR_QMP_EXTRA_MEMBER, "monitor.c", "MIG-QMP-003"),
    ErrorDecl("json_parsing", GENERIC, QERR_JSON_PARSING, "monitor.c", "MIG-QMP-003"),
)

ERROR_BY_KEY: dict[str, ErrorDecl] = {e.key: e for e in ERRORS}
