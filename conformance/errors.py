"""The one exception family conformance raises across layers, and the exit codes it maps to."""

from __future__ import annotations

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2


class ConformanceError(Exception):
    """A tool or usage error with a one-line message for the user (exit code 2).

    ``location`` is ``file:line`` when the error is about a place in a file.
    """

    def __init__(self, message: str, location: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message
