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

Signals (PEP 475): the library's interrupt hook is set at import. After a
signal interrupts a blocking call, the hook runs Python's signal handlers
in that thread; one that raises ends the call (EINTR) and ``last_error()``
gives the handler's exception instead of InterruptedError, as CPython's
module raises it. A handler that returns lets the call resume with the
time that remains.
"""

import atexit
import errno
import sys
import threading

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


_pending = threading.local()


def _run_handlers():
    """The hook's body, a generator so that it runs inside ``try``: the
    callback is its ``send`` (C, no frame of its own), and Python runs the
    pending signal handlers where the generator resumes, inside the try
    (a Python function would run them on entry, before any try, and ctypes
    would only print what they raise). Yields 1 to end the call."""
    answer = 0
    while True:
        try:
            while True:
                yield answer
                answer = 0
        except GeneratorExit:
            return
        except BaseException as e:  # the handler's, whatever it is
            # Without this frame in its traceback: code that clears a
            # traceback's frames (unittest's assertRaises) would close us.
            _pending.exc = e.with_traceback(e.__traceback__.tb_next)
            answer = 1


def take_interrupt():
    """The exception a signal handler raised during this thread's last
    interrupted call (taken once), or None."""
    exc = getattr(_pending, "exc", None)
    if exc is not None:
        _pending.exc = None
    return exc


def _set_hook():
    if not _abi.has("polysock_set_interrupt_hook"):
        return None
    gen = _run_handlers()
    next(gen)
    # Shared by every thread: a thread that finds another inside it (only
    # if the GIL moved in those few bytecodes) gets 0, i.e. resumes, and
    # ctypes reports the ValueError; only the main thread runs handlers.
    hook = _abi.polysock_interrupt_hook_t(gen.send)
    _abi.polysock_set_interrupt_hook(hook, None)
    # Removed before the interpreter tears the callback down.
    atexit.register(_abi.polysock_set_interrupt_hook, _abi.polysock_interrupt_hook_t(), None)
    return hook, gen


_hook = _set_hook()  # kept alive for as long as the library may call it


def last_error():
    """The exception for the last failed polysock call on this thread (the
    signal handler's own, for a call it ended)."""
    code = _abi.polysock_errno()
    if code == errno.EINTR:
        exc = take_interrupt()
        if exc is not None:
            return exc
    message = _abi.polysock_last_error().decode("utf-8", "replace")
    return exception_for(code, message or strerror(code))
