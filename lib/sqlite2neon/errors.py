"""Errors the runbook raises on purpose. Each message is one line that says what is wrong and
what to do; the CLI prints it as it is and exits non-zero."""


def one_line(exc: BaseException, lines: int = 2) -> str:
    """An exception's message for a one-line error: its first `lines` non-empty lines, joined."""
    parts = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return "; ".join(parts[:lines]) if parts else type(exc).__name__


class RunbookError(Exception):
    """Base of every error that stops the runbook with a message meant for the user."""

    def __str__(self) -> str:
        return " ".join(super().__str__().split())


class ConfigError(RunbookError):
    """A parameter or parameter file is wrong."""


class SourceError(RunbookError):
    """The SQLite source is missing, unreadable or not a database."""


class TargetError(RunbookError):
    """The Postgres target cannot be reached or used."""


class TargetRefused(TargetError):
    """The target refused the connection for a reason that waiting cannot fix (a database or role that
    does not exist, authentication, TLS verification)."""


class PreflightFailed(RunbookError):
    """A preflight check failed; nothing was written to the target."""


class TargetNotEmpty(RunbookError):
    """A target table already holds rows and `if_exists` is `fail`."""


class VerificationFailed(RunbookError):
    """Source and target differ."""


class LossesNotAccepted(RunbookError):
    """The plan lists things that will not arrive as they are in SQLite, and `accept_losses` does not
    name them all; nothing was written."""


class DryRunStop(RunbookError):
    """`dry_run` is set: the runbook stops after the plan."""


class TargetFull(TargetError):
    """The target ran out of space (a full disk, or Neon's storage limit) during the load."""


class CutoverFailed(RunbookError):
    """The target could not be brought level, or the app's API does not agree with it (cutover.py)."""


class ConflictsFound(CutoverFailed):
    """Rows changed in Postgres since the last sync, and `conflicts` is `stop`: nothing was applied.
    `caught` (a cutover.CatchUp) holds everything the comparison found (the conflicts, and SQLite's
    changes)."""

    def __init__(self, message: str, caught):
        super().__init__(message)
        self.caught = caught
