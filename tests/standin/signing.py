"""A throwaway OpenPGP signing key and detached ASCII-armoured signatures.

All GnuPG state lives in short-lived home directories (never ``~/.gnupg``); the
key itself is cached as armoured exports so repeated builds reuse it. Every
``gpg-agent`` started on the way is stopped before returning.
"""

from __future__ import annotations

import base64
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from ._util import StandinError, run, write_if_changed

KEY_UID = "Falco stand-in signing key <standin@falco.invalid>"
KEY_ALGO = "rsa3072"
_FINGERPRINT_FILE = "fingerprint.txt"
_PUBLIC_FILE = "public.asc"
_SECRET_FILE = "secret.asc"
# AF_UNIX socket paths are limited to 108 bytes; gpg-agent puts its sockets
# (the longest is S.gpg-agent.browser) in the home directory unless
# /run/user/<uid> exists.
_LONGEST_SOCKET = "S.gpg-agent.browser"
_MAX_SOCKET_PATH = 100
_NO_PASSPHRASE = ("--pinentry-mode", "loopback", "--passphrase", "")


@dataclass(frozen=True)
class SigningKey:
    """A cached signing key: its fingerprint and armoured public/secret exports."""

    fingerprint: str
    public_armored: bytes
    secret_path: Path


@contextmanager
def _gnupg_home(parent: Path) -> Iterator[dict[str, str]]:
    """Yield an environment with a fresh private GNUPGHOME; stop its agent afterwards."""
    parent.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="gnupg-", dir=parent.resolve()))
    if len(str(home / _LONGEST_SOCKET)) > _MAX_SOCKET_PATH:
        # Too deep for the agent's sockets: use a short scratch home instead.
        home.rmdir()
        home = Path(tempfile.mkdtemp(prefix="standin-gnupg-"))
    os.chmod(home, 0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    try:
        yield env
    finally:
        with suppress(StandinError):
            run(["gpgconf", "--kill", "all"], env=env)
        shutil.rmtree(home, ignore_errors=True)


def _gpg(env: dict[str, str], *args: str | os.PathLike[str]) -> bytes:
    return run(["gpg", "--batch", "--no-tty", "--quiet", *args], env=env).stdout


def ensure_signing_key(key_dir: Path) -> SigningKey:
    """Return the signing key cached in ``key_dir``, generating it on first use."""
    fingerprint_file = key_dir / _FINGERPRINT_FILE
    public_file = key_dir / _PUBLIC_FILE
    secret_file = key_dir / _SECRET_FILE
    key_dir.mkdir(parents=True, exist_ok=True)
    with (key_dir / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent builds into one out dir share one key
        if not fingerprint_file.is_file():
            _generate_key(key_dir)
    return SigningKey(
        fingerprint=fingerprint_file.read_text().strip(),
        public_armored=public_file.read_bytes(),
        secret_path=secret_file,
    )


def _generate_key(key_dir: Path) -> None:
    """Generate a key in a scratch GNUPGHOME and cache its armoured exports in ``key_dir``."""
    with _gnupg_home(key_dir) as env:
        _gpg(env, *_NO_PASSPHRASE, "--quick-gen-key", KEY_UID, KEY_ALGO, "sign", "never")
        listing = _gpg(env, "--with-colons", "--list-secret-keys").decode()
        fingerprint = next(
            line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")
        )
        public = _gpg(env, "--armor", "--export", fingerprint)
        secret = _gpg(env, *_NO_PASSPHRASE, "--armor", "--export-secret-keys", fingerprint)
    write_if_changed(key_dir / _SECRET_FILE, secret, mode=0o600)
    write_if_changed(key_dir / _PUBLIC_FILE, public)
    # Written last: its presence marks a complete key.
    write_if_changed(key_dir / _FINGERPRINT_FILE, fingerprint.upper().encode() + b"\n")


def _crc24(data: bytes) -> int:
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def dearmor(armored: bytes) -> bytes:
    """Decode an OpenPGP ASCII-armoured block (RFC 4880 §6.2) to binary packets."""
    lines = [line.strip() for line in armored.decode("ascii").splitlines()]
    try:
        begin = next(i for i, line in enumerate(lines) if line.startswith("-----BEGIN PGP "))
        end = next(i for i in range(begin + 1, len(lines)) if lines[i].startswith("-----END PGP "))
    except StopIteration:
        raise ValueError("no ASCII-armoured OpenPGP block found") from None
    body = lines[begin + 1 : end]
    if "" in body:  # armour headers ("Key: value") end with the first blank line
        body = body[body.index("") + 1 :]
    checksum: bytes | None = None
    if body and body[-1].startswith("=") and len(body[-1]) == 5:
        checksum = base64.b64decode(body.pop()[1:])
    data = base64.b64decode("".join(body))
    if checksum is not None and _crc24(data).to_bytes(3, "big") != checksum:
        raise ValueError("ASCII armour checksum mismatch")
    return data


def verify_signature(
    public_armored: bytes, data: Path, signature: Path, scratch: Path | None = None
) -> bool:
    """Return True when ``signature`` is a good detached signature of ``data`` (via gpgv).

    ``scratch`` is where the temporary keyring goes (the system temp dir if None).
    """
    with tempfile.TemporaryDirectory(prefix="standin-gpgv-", dir=scratch) as tmp:
        keyring = Path(tmp) / "keyring.gpg"
        keyring.write_bytes(dearmor(public_armored))
        env = {**os.environ, "GNUPGHOME": tmp}
        try:
            run(["gpgv", "--quiet", "--keyring", keyring, signature, data], env=env)
        except StandinError:
            return False
    return True


def sign_files(key: SigningKey, files: Sequence[Path]) -> list[Path]:
    """Write ``<file>.asc`` detached armoured signatures next to each of ``files``.

    Files whose existing ``.asc`` already verifies against ``key`` are left alone,
    so rebuilding an unchanged release does not churn the signatures. Returns
    the signature paths written.
    """
    pending = [
        path
        for path in files
        if not (
            (asc := path.with_name(path.name + ".asc")).is_file()
            and verify_signature(key.public_armored, path, asc, key.secret_path.parent)
        )
    ]
    if not pending:
        return []
    written: list[Path] = []
    with _gnupg_home(key.secret_path.parent) as env:
        _gpg(env, *_NO_PASSPHRASE, "--import", key.secret_path)
        for path in pending:
            asc = path.with_name(path.name + ".asc")
            tmp_asc = path.with_name(f".{path.name}.asc.tmp")
            tmp_asc.unlink(missing_ok=True)
            _gpg(
                env,
                *_NO_PASSPHRASE,
                "--local-user",
                key.fingerprint,
                "--armor",
                "--detach-sign",
                "--output",
                tmp_asc,
                path,
            )
            os.chmod(tmp_asc, 0o644)
            os.replace(tmp_asc, asc)
            written.append(asc)
    return written
