"""This host and its processes: which files and claims a dead process left behind."""

from __future__ import annotations

import os
import socket

HOST = socket.gethostname()


def pid_alive(pid: int) -> bool:
    """Whether process `pid` runs on this host (a zombie counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def alive(host: str, pid: int) -> bool:
    """False only when we can tell: `pid` is dead and `host` is this host."""
    return host != HOST or pid_alive(pid)
