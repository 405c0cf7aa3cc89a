"""The one exception for "answer this request with this status and this error code".

Services raise it; adapters (Flask blueprints, the CLI) translate it: HTTP status plus the JSON
``{"error": code, "message": message}`` body, or a one-line message and a non-zero exit.
"""

from __future__ import annotations


class Refusal(Exception):
    """A request refused on purpose: HTTP status, protocol error code, message, extra headers."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def body(self) -> dict[str, str]:
        """The protocol's JSON error body."""
        return {"error": self.code, "message": self.message}
