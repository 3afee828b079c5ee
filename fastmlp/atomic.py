"""Writing a file so that it is either complete or not there at all."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable


def write_atomically(dest, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write`` on a temporary file next to ``dest``, fsync it, then rename it to
    ``dest``; if anything fails (Ctrl-C included), remove the temporary file and leave
    ``dest`` as it was."""
    dest = Path(dest)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
