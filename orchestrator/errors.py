"""The one error hierarchy of jobctl.

Every error a user can cause or fix is a :class:`JobctlError`. Each subclass
carries an ``exit_code`` so the CLI can map it without a lookup table, and its
message is written for the person who has to fix the problem: it names the
file, line, row, job or chunk involved. Driver exceptions (psycopg, sqlite3,
paramiko, pyarrow) are wrapped at the edge where they enter our code.
"""

from __future__ import annotations

from dataclasses import dataclass


class ExitCode:
    """Process exit codes. Stable and documented in the README."""

    OK = 0
    JOB_FAILED = 1
    USAGE = 2
    STORE_UNAVAILABLE = 3
    CANCELLED = 4
    INTERRUPTED = 130


class JobctlError(Exception):
    """Base of every expected jobctl error."""

    exit_code: int = ExitCode.USAGE


@dataclass(frozen=True)
class SpecIssue:
    """One problem found in a spec file, located as precisely as we can."""

    file: str
    line: int | None
    column: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class SpecError(JobctlError):
    """A spec file is invalid. Holds every issue found, not only the first."""

    exit_code = ExitCode.USAGE

    def __init__(self, issues: list[SpecIssue]) -> None:
        self.issues = list(issues)
        lines = "\n".join(str(issue) for issue in self.issues)
        super().__init__(f"{len(self.issues)} error(s) in spec:\n{lines}")


class PlanningError(JobctlError):
    """Inputs cannot be discovered or cut into chunks (missing file, bad format...)."""

    exit_code = ExitCode.USAGE


class StoreError(JobctlError):
    """The state store refused an operation for a reason the user can act on."""

    exit_code = ExitCode.USAGE


class StoreUnavailable(StoreError):
    """The state store cannot be reached. The message never contains a password."""

    exit_code = ExitCode.STORE_UNAVAILABLE


class SchemaTooNew(StoreError):
    """The store was migrated by a newer jobctl than this one."""


class IllegalTransition(StoreError):
    """A state change that the state machine forbids; nothing was changed."""


class NotFound(StoreError):
    """A job (or chunk, host, queue) that the user named does not exist."""


class ProcessorError(JobctlError):
    """A processor cannot be loaded (bad import path, missing program...)."""


class PermanentError(JobctlError):
    """Raise from a processor when retrying the chunk cannot help (bad data,
    a broken contract): the chunk goes dead at once, without spending its
    other attempts. Exported as ``orchestrator.PermanentError``."""


class OutputExists(JobctlError):
    """``output.mode: error_if_exists`` and the output location is not empty."""


class SshError(JobctlError):
    """A remote host cannot be used (unreachable, refused, misconfigured)."""


class HostUnreachable(SshError):
    """The host does not answer (DNS, refused, timeout, connection reset)."""


class HostAuthFailed(SshError):
    """The host answered but refused our keys. Never names a secret."""


class HostKeyRejected(SshError):
    """The host's key is unknown or changed: nothing was executed on it.

    The message carries the offered key's SHA256 fingerprint so the user can
    compare it out of band before trusting it.
    """


class BootstrapError(SshError):
    """Preparing a remote host (wheelhouse, venv, install) failed."""


class ResumeRefused(JobctlError):
    """A job cannot be resumed as planned: an input or its spec changed since.
    The message names each changed file and how to go on (``--replan``)."""


class JobActive(JobctlError):
    """The operation needs a job that is not pending or running (rollback)."""
