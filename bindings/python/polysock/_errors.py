"""polysock's error codes as Python's own exceptions.

A failed polysock call records a code and a message for the calling OS
thread; ``last_error()`` reads both (right after the failed call, in the
same thread: ctypes runs a call on the calling thread) and builds:

* for an errno value, ``OSError(code, message)``, which Python itself turns
  into the matching subclass (ConnectionRefusedError, BrokenPipeError,
  TimeoutError, BlockingIOError, FileNotFoundError...);
* for a resolver code (polysock's EAI_* codes, at or above
  POLYSOCK_ERR_BASE), ``gaierror(errno, message)`` whose errno is the
  platform's value for that failure (Linux's negative EAI_*), as CPython's;
* for polysock's other own codes (POLYSOCK_EPANIC...), a plain OSError.
"""

import sys

from . import _abi

error = OSError
timeout = TimeoutError


class herror(OSError):
    """A host-lookup error (CPython's socket.herror)."""


class gaierror(OSError):
    """A resolver error. ``errno`` is the platform's EAI_* value, as
    CPython's (polysock.EAI_NONAME... are those values too)."""


#: The platform's getaddrinfo codes by name (Linux, glibc's <netdb.h>):
#: polysock's own EAI_* codes are the same everywhere, CPython reports these.
EAI_PLATFORM = {
    "EAI_BADFLAGS": -1, "EAI_NONAME": -2, "EAI_AGAIN": -3, "EAI_FAIL": -4,
    "EAI_NODATA": -5, "EAI_FAMILY": -6, "EAI_SOCKTYPE": -7, "EAI_SERVICE": -8,
    "EAI_ADDRFAMILY": -9, "EAI_MEMORY": -10, "EAI_SYSTEM": -11, "EAI_OVERFLOW": -12,
} if sys.platform.startswith("linux") else {}


def errname(code):
    """The symbolic name of a code: "ECONNREFUSED", "EAI_NONAME"..."""
    return _abi.polysock_errname(code).decode("ascii", "replace")


def strerror(code):
    """polysock's static description of a code."""
    return _abi.polysock_strerror(code).decode("utf-8", "replace")


def exception_for(code, message):
    """The Python exception for a polysock code and message."""
    if code >= _abi.ERR_BASE:
        name = errname(code)
        if name.startswith("EAI_"):
            return gaierror(EAI_PLATFORM.get(name, code), message)
    return OSError(code, message)


def last_error():
    """The exception for the last failed polysock call on this thread."""
    code = _abi.polysock_errno()
    message = _abi.polysock_last_error().decode("utf-8", "replace")
    return exception_for(code, message or strerror(code))
