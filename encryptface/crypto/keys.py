"""Passwords, key derivation and authenticated encryption.

Key schedule: ``master = scrypt(password, run_salt)`` is derived once per job on the driver (the
password itself never leaves the driver process); each photo gets a random 16-byte record salt and
each face its own AES-256-GCM key ``HKDF-SHA256(master, salt=record_salt, info=face index)``. The
associated data binds a sealed face to its source photo's hash and face index, so a record's
ciphertext cannot be moved to another photo or face undetected. Guessing a password costs one full
scrypt per guess, exactly as with a per-record scrypt, while a million-photo job pays scrypt once.

Every keyed face record also holds a 16-byte key-check value (an HMAC of its associated data under a
third HKDF key): restore and verify refuse a wrong password with it before anything is decrypted or
compared. It is a password oracle, as every AES-GCM tag in a record already is: whoever holds the
Parquet files can test password guesses offline, at one scrypt per guess and nothing faster.
"""

from __future__ import annotations

import base64
import dataclasses
import getpass
import hashlib
import hmac
import json
import os
import secrets
import sys
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from encryptface.config import MIN_SCRYPT_N_LOG2, KdfSettings

PASSWORD_ENV = "ENCRYPTFACE_PASSWORD"
_NONCE_BYTES = 12
_KEY_BYTES = 32
_CHECK_BYTES = 16


class PasswordError(ValueError):
    """No usable password was given."""


class DecryptionError(ValueError):
    """Authentication failed: the password is wrong, or the record was altered or moved."""

    def __init__(self) -> None:
        super().__init__("wrong password (or the record was altered or moved to another photo)")


class _Secret:
    """Bytes that never show up in a repr, a log line, an exception or a pickle by accident."""

    __slots__ = ("_value",)

    def __init__(self, value: bytes) -> None:
        self._value = value

    def __repr__(self) -> str:
        return f"{type(self).__name__}(***)"

    __str__ = __repr__


class Password(_Secret):
    """A password, held only by the driver process; refuses to be pickled (shipped to workers)."""

    def __reduce__(self) -> None:
        raise TypeError("a Password is never serialised; ship a MasterKey instead")


def read_password(password_file: str | None = None, environ: Mapping[str, str] | None = None,
                  interactive: bool | None = None) -> Password:
    """The password from ``password_file`` (first line), else ``ENCRYPTFACE_PASSWORD``, else a
    prompt when a terminal is attached."""
    environ = os.environ if environ is None else environ
    if password_file:
        try:
            with open(password_file, "rb") as fh:
                lines = fh.read().splitlines()
            value = lines[0] if lines else b""
        except OSError as exc:
            raise PasswordError(f"cannot read password file {password_file}: {exc.strerror}") from None
    elif environ.get(PASSWORD_ENV):
        value = environ[PASSWORD_ENV].encode()
    elif interactive if interactive is not None else sys.stdin.isatty():
        value = getpass.getpass("EncryptFace password: ").encode()
    else:
        raise PasswordError(f"no password: use --password-file, {PASSWORD_ENV} or a terminal prompt")
    if not value:
        raise PasswordError("the password is empty")
    return Password(value)


@dataclasses.dataclass(frozen=True)
class KdfParams:
    """scrypt parameters plus the run salt: everything but the password needed to re-derive."""

    n_log2: int
    r: int
    p: int
    salt: bytes

    @classmethod
    def fresh(cls, settings: KdfSettings) -> KdfParams:
        if settings.algorithm != "scrypt":
            raise ValueError(f"unsupported KDF {settings.algorithm!r} (only scrypt)")
        if settings.n_log2 < MIN_SCRYPT_N_LOG2:
            raise ValueError(f"scrypt n_log2 below {MIN_SCRYPT_N_LOG2} is too weak")
        return cls(settings.n_log2, settings.r, settings.p, secrets.token_bytes(16))

    def to_json(self) -> str:
        return json.dumps({"algorithm": "scrypt", "n": 2 ** self.n_log2, "r": self.r, "p": self.p,
                           "salt": base64.b64encode(self.salt).decode(), "length": _KEY_BYTES,
                           "expand": "hkdf-sha256", "aead": "aes-256-gcm"}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> KdfParams:
        data = json.loads(text)
        if data.get("algorithm") != "scrypt" or data.get("aead") != "aes-256-gcm":
            raise ValueError(f"unsupported key derivation in record: {data.get('algorithm')}")
        return cls(int(data["n"]).bit_length() - 1, int(data["r"]), int(data["p"]),
                   base64.b64decode(data["salt"]))


class MasterKey(_Secret):
    """The scrypt output for one password and :class:`KdfParams`; picklable so workers get it."""

    __slots__ = ("params",)

    def __init__(self, value: bytes, params: KdfParams) -> None:
        super().__init__(value)
        self.params = params

    def __reduce__(self) -> tuple:
        return MasterKey, (self._value, self.params)

    @property
    def kdf_json(self) -> str:
        return self.params.to_json()

    def face_key(self, record_salt: bytes, face_index: int) -> bytes:
        """The AES-256 key of one face of one photo."""
        return self._derive(record_salt, b"encryptface/v1/face/%d" % face_index)

    def embedding_key(self, record_salt: bytes, face_index: int) -> bytes:
        """The AES-256 key that seals one face's recogniser embedding (its own key: the face key
        never encrypts anything but the face)."""
        return self._derive(record_salt, b"encryptface/v1/face/%d/embedding" % face_index)

    def key_check(self, record_salt: bytes, face_index: int, aad: bytes) -> bytes:
        """A face record's key-check value: proves a key right or wrong before anything is
        decrypted or compared (HMAC-SHA256 of the face's associated data under a key of its own,
        truncated to 16 bytes)."""
        check_key = self._derive(record_salt, b"encryptface/v1/face/%d/check" % face_index)
        return hmac.new(check_key, aad, hashlib.sha256).digest()[:_CHECK_BYTES]

    def opens(self, record_salt: bytes, face_index: int, aad: bytes, key_check: bytes) -> bool:
        """Whether this key made a face record's ``key_check`` (constant-time comparison)."""
        return hmac.compare_digest(self.key_check(record_salt, face_index, aad), bytes(key_check))

    def _derive(self, record_salt: bytes, info: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=_KEY_BYTES, salt=bytes(record_salt),
                    info=info).derive(self._value)


class KeyRing:
    """Master keys by their record's ``kdf`` JSON. On the driver it holds the password and derives
    keys on first use; pickled (to ship to workers) it carries only the keys derived so far."""

    def __init__(self, password: Password | None = None,
                 keys: dict[str, MasterKey] | None = None) -> None:
        self._password = password
        self._keys = dict(keys or {})

    def __reduce__(self) -> tuple:
        return KeyRing, (None, self._keys)

    def __repr__(self) -> str:
        return f"KeyRing({len(self._keys)} keys)"

    def get(self, kdf_json: str) -> MasterKey:
        """The master key for a record's KDF parameters."""
        if kdf_json not in self._keys:
            if self._password is None:
                raise KeyError("no key derived for this record's KDF parameters")
            self._keys[kdf_json] = derive_master_key(self._password, KdfParams.from_json(kdf_json))
        return self._keys[kdf_json]


def derive_master_key(password: Password, params: KdfParams) -> MasterKey:
    """Run scrypt (slow on purpose: ~0.5 s and 128 MiB at the default n=2**17)."""
    kdf = Scrypt(salt=params.salt, length=_KEY_BYTES, n=2 ** params.n_log2, r=params.r, p=params.p)
    return MasterKey(kdf.derive(password._value), params)


def new_record_salt() -> bytes:
    """A fresh random salt for one photo's record."""
    return secrets.token_bytes(16)


def face_aad(source_sha256: str, face_index: int, mode: str) -> bytes:
    """Associated data binding a sealed face to its photo, its index and its mode."""
    return f"encryptface/v1|{source_sha256}|{face_index}|{mode}".encode()


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM: returns ``nonce || ciphertext || tag``."""
    nonce = secrets.token_bytes(_NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def unseal(key: bytes, blob: bytes, aad: bytes) -> bytes:
    """Inverse of :func:`seal`; raises :class:`DecryptionError` on any mismatch."""
    try:
        return AESGCM(key).decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], aad)
    except (InvalidTag, ValueError):
        raise DecryptionError() from None
