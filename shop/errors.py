"""Errors raised by services; views and the events API turn them into messages or answers."""


class DomainError(Exception):
    """A business rule refuses the request. `code` is a stable machine-readable rule code."""

    def __init__(self, message: str, *, code: str = "refused"):
        super().__init__(message)
        self.message = message
        self.code = code


class NotFound(Exception):
    """The request refers to something that does not exist (or that the caller may not see)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
