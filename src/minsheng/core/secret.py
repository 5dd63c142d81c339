"""The embedded default's secret key: generated once per data directory, never in the source."""

from __future__ import annotations

import secrets
from pathlib import Path


def data_dir_secret_key(data_dir: Path) -> str:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        key = secrets.token_urlsafe(50)
        # O_EXCL: when two processes start at once, one writes and both read the same key.
        try:
            with path.open("x") as handle:
                handle.write(key)
            path.chmod(0o600)
        except FileExistsError:
            pass
        return path.read_text().strip()
