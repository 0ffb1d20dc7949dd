"""Sealing secrets at rest (org policies, per-org provider keys) with AES-256-GCM."""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

log = logging.getLogger(__name__)
_NONCE_BYTES = 12


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"asahi-key-id:" + key).hexdigest()[:16]


class Sealer:
    """Seals with the current key; opens with it or, during a rotation, with the previous one."""

    def __init__(self, key: bytes, previous: bytes | None = None) -> None:
        if len(key) != 32 or (previous is not None and len(previous) != 32):
            raise ValueError("AES-256-GCM needs a 32-byte key")
        self._key = key
        self._previous_key = previous
        # Stored beside each sealed value, so a rotation knows which rows still need the old key.
        self.key_id = key_id(key)

    # cryptography (~9 MB resident) loads at the first secret sealed or opened: an org with the default policy
    # and no keys of its own never needs it.
    @cached_property
    def _aead(self) -> AESGCM:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        return AESGCM(self._key)

    @cached_property
    def _previous(self) -> AESGCM | None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        return None if self._previous_key is None else AESGCM(self._previous_key)

    def seal(self, plaintext: bytes, associated: bytes = b"") -> bytes:
        """Encrypt; `associated` binds the ciphertext to its owner (e.g. the org id) so rows can't be swapped."""
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, associated)

    def open(self, sealed: bytes, associated: bytes = b"") -> bytes:
        from cryptography.exceptions import InvalidTag

        for aead in (self._aead, self._previous):
            if aead is None:
                continue
            try:
                return aead.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], associated)
            except InvalidTag:
                continue
        raise ValueError("sealed data failed authentication (wrong ASAHI_ENCRYPTION_KEY or tampering)")


def embedded_key(data_dir: Path) -> bytes:
    """The embedded default's key: generated once into the data directory, with one warning.

    Several workers may start at once on one data directory: the key is written whole to a file of this
    process's own and linked into place, so every process reads the one key that won, never a half-written one.
    """
    path = data_dir / "encryption.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        mine = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(mine, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
        try:
            os.link(mine, path)
            log.warning("ASAHI_ENCRYPTION_KEY is not set: generated one into the data directory; set it in "
                        "production")
        except FileExistsError:
            pass
        finally:
            mine.unlink()
    return bytes.fromhex(path.read_text().strip())
