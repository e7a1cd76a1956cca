"""The generated admin token, kept in DATA_DIR/admin.token (mode 0600) so that it survives a
restart (the browser console stays signed in) and `run.py console` on the same machine finds it.

A configured token (`admin.token` or DELIVERY_ADMIN_TOKEN) always wins and is never written.
"""

from __future__ import annotations

import secrets
import stat
from pathlib import Path

from .config import MIN_ADMIN_TOKEN
from .secretkey import write_atomically

FILE_NAME = "admin.token"


class AdminTokenError(RuntimeError):
    """admin.token cannot be used as it is; the message names the file and what to do."""


def token_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / FILE_NAME


def stored_token(data_dir: str | Path) -> str | None:
    """The token kept in the data directory, None when there is none (or it cannot be read)."""
    try:
        token = token_path(data_dir).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return token or None


def new_token() -> str:
    """192 random bits, URL-safe, never starting with "-": a token pasted after `--token` on a
    command line must not read as an option (1 in 64 of plain token_urlsafe would)."""
    while (token := secrets.token_urlsafe(24)).startswith("-"):
        pass
    return token


def load_or_create(data_dir: str | Path) -> tuple[str, bool]:
    """The kept token, made on first use (True: made now). AdminTokenError if the file is
    exposed to group or others or too short to be a token of ours."""
    path = token_path(data_dir)
    if not path.exists():
        token = new_token()
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomically(path, token.encode("ascii") + b"\n")
        return token, True
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise AdminTokenError(f"{path} is accessible to group or others (mode {mode:04o}); "
                              f"chmod 600 it, or remove it to have a new token made")
    token = stored_token(data_dir) or ""
    if len(token) < MIN_ADMIN_TOKEN:
        raise AdminTokenError(f"{path} holds no token of at least {MIN_ADMIN_TOKEN} characters; "
                              f"remove it to have a new one made")
    return token, False
