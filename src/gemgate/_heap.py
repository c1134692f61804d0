"""Memory a server process gives back to the system after a burst of allocations.

CPython's own allocator for small objects keeps each of its 1 MiB arenas for as long as a
single object in it lives. A request that builds millions of small objects (a body of
100,000 chat messages peaks at ~80 MB of them) leaves behind the few objects made during
it that outlive it (its history record, its quota ticket), and each keeps an arena. The
process's RSS then climbs by about 1 MiB a request, up to the size of one such peak.

On glibc's ``malloc`` (``PYTHONMALLOC=malloc``) the freed memory stays in the C heap's free
lists instead, and ``malloc_trim(0)`` hands every free page of it back, whatever still lives
beside it. So ``gemgate serve`` and ``gemgate emulate`` restart themselves once on
``malloc`` (`run_on_malloc`) and trim their heap when it has grown (`start_trimming`).
A ``PYTHONMALLOC`` set by the user is left alone, and off glibc none of this happens.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys
import threading

__all__ = ["Trimmer", "run_on_malloc", "start_trimming"]

SLACK = 16 * 1024 * 1024
"""Bytes of freed memory that may stay resident before a trim (see `Trimmer`)."""


def _libc() -> ctypes.CDLL | None:
    """glibc, or None on any other C library (musl, macOS, Windows)."""
    if platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def _rss() -> int:
    """This process's resident set size, in bytes."""
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def run_on_malloc() -> None:
    """Restart this program with ``PYTHONMALLOC=malloc``, unless it is set already or off glibc.

    Call it first thing in a program's entry point: nothing before the call survives it.
    """
    if "PYTHONMALLOC" in os.environ or _libc() is None:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, sys.orig_argv, {**os.environ, "PYTHONMALLOC": "malloc"})


class _MallInfo2(ctypes.Structure):
    """glibc's ``struct mallinfo2`` (2.33 and later)."""

    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


class Trimmer(threading.Thread):
    """``malloc_trim(0)`` once resident memory that no allocation uses grew by ``slack`` bytes.

    Every ``every`` seconds it compares RSS with the bytes glibc has handed out (in its
    heaps and in its own mappings). Their difference, less what it was after the last trim
    (code, stacks, fragments no trim can return), is freed memory still resident: a burst
    that ended. While a burst lasts, both grow together and nothing is trimmed.

    A thread, not a task: it serves any process (the gateway's workers, the emulator)
    without a place in their event loops, and ctypes lets go of the GIL while glibc works.
    """

    def __init__(self, libc: ctypes.CDLL, every: float = 1.0, slack: int = SLACK) -> None:
        super().__init__(name="gemgate-heap-trimmer", daemon=True)
        self.libc, self.every, self.slack = libc, every, slack
        self.libc.mallinfo2.restype = _MallInfo2
        self.trims = 0
        """How many times it trimmed."""
        self._stopped = threading.Event()

    def idle_resident(self) -> int:
        """Resident bytes not in any live allocation of glibc's (garbage, code, stacks)."""
        info = self.libc.mallinfo2()
        return _rss() - int(info.uordblks) - int(info.hblkhd)

    def run(self) -> None:
        floor = self.idle_resident()
        while not self._stopped.wait(self.every):
            if self.idle_resident() - floor > self.slack:
                self.libc.malloc_trim(0)
                self.trims += 1
                floor = self.idle_resident()

    def stop(self) -> None:
        """End the thread (it ends with the process otherwise)."""
        self._stopped.set()


def start_trimming(every: float = 1.0, slack: int = SLACK) -> Trimmer | None:
    """Start a `Trimmer` in this process; None unless it runs on glibc's malloc (2.33+).

    Under CPython's own allocator the garbage sits in its arenas, where no trim reaches.
    """
    if os.environ.get("PYTHONMALLOC") != "malloc" or not os.path.exists("/proc/self/statm"):
        return None
    libc = _libc()
    if libc is None or not hasattr(libc, "mallinfo2"):
        return None
    trimmer = Trimmer(libc, every, slack)
    trimmer.start()
    return trimmer
