"""The server's secret (DATA_DIR/secret.key): created once, atomically, readable by us alone.

It keys the ids and registration tokens derived from Idempotency-Keys, so whoever reads it can
predict them; a short or empty one (a write cut off by a crash or a full disk, in the days of
the non-atomic write) would make them guessable. Either refuses the start.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

FILE_NAME = "secret.key"
SIZE = 32  # bytes: an HMAC-SHA256 key as long as its output


class SecretKeyError(RuntimeError):
    """secret.key cannot be made, or must not be used as it is."""


def load_secret(data_dir: str | Path) -> bytes:
    """The server's secret, created on first use; SecretKeyError if it is exposed or short."""
    path = Path(data_dir) / FILE_NAME
    if not path.exists():
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            write_atomically(path, secrets.token_bytes(SIZE))
        except OSError as exc:
            raise SecretKeyError(f"cannot create {path}: {exc.strerror or exc}") from None
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SecretKeyError(f"{path} is accessible to group or others (mode {mode:04o}); "
                              f"chmod 600 it and consider replacing it")
    secret = path.read_bytes()
    if len(secret) < SIZE:
        raise SecretKeyError(f"{path} holds {len(secret)} bytes, fewer than {SIZE}; "
                              f"remove it to have a new one made (Idempotency-Keys then start afresh)")
    return secret


def write_atomically(path: Path, data: bytes) -> None:
    """Write `path` (mode 0600) so that it exists whole or not at all, also after a power cut:
    a temporary file in the same directory, fsync, rename over, fsync the directory."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.rename(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
