"""polysock's error codes as Python's own exceptions.

A failed polysock call records a code and a message for the calling OS
thread; ``last_error()`` reads both (right after the failed call, in the
same thread: ctypes runs a call on the calling thread) and builds:

* for an errno value, ``OSError(code, message)``, which Python itself turns
  into the matching subclass (ConnectionRefusedError, BrokenPipeError,
  TimeoutError, BlockingIOError, FileNotFoundError...);
* for a resolver code (polysock's EAI_* codes, at or above
  POLYSOCK_ERR_BASE), ``gaierror(code, message)``;
* for polysock's other own codes (POLYSOCK_EPANIC...), a plain OSError.
"""

from . import _abi

error = OSError
timeout = TimeoutError


class herror(OSError):
    """A host-lookup error (CPython's socket.herror)."""


class gaierror(OSError):
    """A resolver error. ``errno`` is one of polysock's EAI_* codes (compare
    with polysock.EAI_NONAME..., not with the values of CPython's socket
    module)."""


def errname(code):
    """The symbolic name of a code: "ECONNREFUSED", "EAI_NONAME"..."""
    return _abi.polysock_errname(code).decode("ascii", "replace")


def strerror(code):
    """polysock's static description of a code."""
    return _abi.polysock_strerror(code).decode("utf-8", "replace")


def exception_for(code, message):
    """The Python exception for a polysock code and message."""
    if code >= _abi.ERR_BASE and errname(code).startswith("EAI_"):
        return gaierror(code, message)
    return OSError(code, message)


def last_error():
    """The exception for the last failed polysock call on this thread."""
    code = _abi.polysock_errno()
    message = _abi.polysock_last_error().decode("utf-8", "replace")
    return exception_for(code, message or strerror(code))
