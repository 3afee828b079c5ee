"""Fetching a data file: each source in turn, a progress bar of bytes, a SHA-256 check before
the file is renamed into place, and one error listing what went wrong with every source."""
from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import zipfile
from pathlib import Path
from typing import BinaryIO, Sequence

from .atomic import write_atomically

DOWNLOAD_TIMEOUT = 60  # seconds without data before a source is given up


class DownloadError(OSError):
    """A dataset file could not be fetched from any of its sources."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _open_url(url: str, timeout: float):
    """urllib's urlopen; the one place that reaches the network (tests replace it)."""
    import urllib.request  # imported here: it takes ~60 ms (http, ssl, email) to import

    return urllib.request.urlopen(url, timeout=timeout)


def _stream(url: str, out: BinaryIO, label: str) -> str:
    """Copy ``url`` into the open file ``out`` with a progress bar of bytes; returns the
    SHA-256 of what was copied."""
    from tqdm import tqdm  # imported here: only downloads need it

    digest = hashlib.sha256()
    with _open_url(url, DOWNLOAD_TIMEOUT) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label,
                  disable=None, leave=False) as bar:
            while chunk := response.read(1 << 16):
                out.write(chunk)
                digest.update(chunk)
                bar.update(len(chunk))
    return digest.hexdigest()


def _check_sum(actual: str, expected: Sequence[str], what: str) -> None:
    if actual not in expected:
        raise ValueError(f"{what} has SHA-256 {actual[:16]}..., expected "
                         f"{' or '.join(e[:16] + '...' for e in expected)}")


def _fetch_plain(url: str, dest: Path, expected: Sequence[str]) -> None:
    """Download ``url`` to ``dest`` atomically, checking its SHA-256 before the rename."""
    def write(f):
        _check_sum(_stream(url, f, dest.name), expected, "the download")
    write_atomically(dest, write)


def _fetch_from_zip(url: str, dest: Path, expected: Sequence[str]) -> None:
    """Download the zip at ``url`` (to an anonymous temporary file) and write its member
    named like ``dest`` to ``dest`` atomically, checking its SHA-256 first."""
    with tempfile.TemporaryFile(dir=dest.parent) as archive:
        _stream(url, archive, Path(url).name)
        archive.seek(0)
        try:
            with zipfile.ZipFile(archive) as zf:
                names = [n for n in zf.namelist() if Path(n).name == dest.name]
                if not names:
                    raise ValueError(f"the zip holds no {dest.name}")
                data = zf.read(names[0])
        except zipfile.BadZipFile as e:
            raise ValueError(f"the download is not a valid zip ({e})") from e
    _check_sum(sha256_hex(data), expected, f"{dest.name} in the zip")
    write_atomically(dest, lambda f: f.write(data))


def fetch(urls: Sequence[str], dest: Path, expected: Sequence[str], how_to: str) -> None:
    """Fetch ``dest`` from the first of ``urls`` that works (a ``.zip`` URL is unpacked).

    Raises DownloadError listing what went wrong with every source, and ``how_to``.
    """
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DownloadError(f"cannot create the folder {dest.parent} for {dest.name}: "
                            f"{e.strerror or e}. {how_to}") from e
    if not os.access(dest.parent, os.W_OK):
        raise DownloadError(f"{dest.name} is missing and the folder {dest.parent} is not "
                            f"writable, so it cannot be downloaded there. {how_to}")
    problems = []
    for url in urls:
        fetch = _fetch_from_zip if url.endswith(".zip") else _fetch_plain
        try:
            fetch(url, dest, expected)
            return
        except urllib.error.HTTPError as e:
            problems.append(f"{url}: HTTP {e.code} {e.reason}")
        except urllib.error.URLError as e:
            problems.append(f"{url}: {e.reason}")
        except (OSError, ValueError, EOFError) as e:  # timeouts, disk errors, checksums
            problems.append(f"{url}: {getattr(e, 'strerror', None) or e}")
    raise DownloadError(f"could not download {dest.name}: " + "; ".join(problems)
                        + f". {how_to}")
