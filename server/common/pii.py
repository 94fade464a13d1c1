"""Personal-data protection: encryption at rest, keyed look-up hashes, and masking.

PIPL treats health data and identity numbers as sensitive. An ID or phone number is stored
as AES-256-GCM ciphertext plus an HMAC-SHA256 "blind index" so equality look-ups work
without decrypting. Both keys derive from the one configured data key via HKDF.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = "v1"


class _Keyring:
    def __init__(self) -> None:
        self.aead: AESGCM | None = None
        self.index_key: bytes | None = None


_keys = _Keyring()


def configure(data_key_b64: str) -> None:
    """Install the data key; called once by the app factory (never at import)."""
    master = base64.b64decode(data_key_b64)
    if len(master) < 32:
        raise ValueError("DATA_ENCRYPTION_KEY must decode to at least 32 bytes")
    _keys.aead = AESGCM(_derive(master, b"jiayi-pii-encryption"))
    _keys.index_key = _derive(master, b"jiayi-pii-blind-index")


def _derive(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)


def _aead() -> AESGCM:
    if _keys.aead is None:
        raise RuntimeError("personal-data key not configured; create the app first")
    return _keys.aead


def encrypt(plaintext: str) -> str:
    nonce = os.urandom(12)
    sealed = _aead().encrypt(nonce, plaintext.encode("utf-8"), _VERSION.encode())
    return _VERSION + ":" + base64.b64encode(nonce + sealed).decode("ascii")


def decrypt(token: str) -> str:
    version, _, body = token.partition(":")
    raw = base64.b64decode(body)
    return _aead().decrypt(raw[:12], raw[12:], version.encode()).decode("utf-8")


def blind_index(value: str) -> str:
    """Keyed hash for equality search; normalised so `3506...x` finds `3506...X`."""
    if _keys.index_key is None:
        raise RuntimeError("personal-data key not configured; create the app first")
    normalised = value.strip().upper().encode("utf-8")
    return hmac.new(_keys.index_key, normalised, hashlib.sha256).hexdigest()


def mask_id_number(value: str | None) -> str | None:
    """`350602199001011234` → `3506**********1234`: region prefix and last four stay."""
    if not value:
        return value
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_name(value: str | None) -> str | None:
    """`王秀英` → `王**`: the first character stays, so a name is recognised but not learned."""
    if not value:
        return value
    return value[0] + "*" * (len(value) - 1) if len(value) > 1 else "*"


def mask_phone(value: str | None) -> str | None:
    """`13812345678` → `138****5678`."""
    if not value:
        return value
    if len(value) < 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


# 18-character resident ID numbers and mainland mobile numbers inside free text; a mobile number
# also as written with the country code (+86, 0086) or in groups (138 1234 5678, 138-1234-5678).
_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3}[0-9Xx])(?![0-9A-Za-z])")
_PHONE_IN_TEXT = re.compile(r"(?<!\d)(?:(?:\+|00)?86[ -]?)?1[3-9]\d[ -]?\d{4}[ -]?\d{4}(?!\d)")


def scrub(text: str) -> str:
    """Mask every ID or phone number found in free text (log lines, error details)."""
    text = _ID_IN_TEXT.sub(lambda m: mask_id_number(m.group(0)), text)
    return _PHONE_IN_TEXT.sub(lambda m: mask_phone(m.group(0)), text)
