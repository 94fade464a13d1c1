"""Development key material for WeChat Pay: ours (merchant) and the sandbox's (platform).

Generated once into a folder (the instance folder by default) and reused, so a demo
restart keeps working with orders it signed before. Never used in production: there the
merchant key comes from WeChat Pay and the platform public key from its console.
"""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

PLATFORM_PUBLIC_KEY_ID = "PUB_KEY_ID_0119000000000000000000000000000001"


@dataclass(frozen=True)
class DevKeys:
    directory: Path

    @property
    def merchant_private_key(self) -> Path:
        return self.directory / "merchant_private_key.pem"

    @property
    def merchant_certificate(self) -> Path:
        return self.directory / "merchant_cert.pem"

    @property
    def platform_private_key(self) -> Path:
        return self.directory / "platform_private_key.pem"

    @property
    def platform_public_key(self) -> Path:
        return self.directory / "platform_public_key.pem"

    @property
    def platform_certificate(self) -> Path:
        """A platform certificate over the same key pair, for the certificate switch-over path."""
        return self.directory / "platform_cert.pem"

    @property
    def platform_public_key_id(self) -> str:
        return PLATFORM_PUBLIC_KEY_ID

    def merchant_serial(self) -> str:
        return _serial_hex(self.merchant_certificate)

    def platform_cert_serial(self) -> str:
        return _serial_hex(self.platform_certificate)


def ensure(directory: str | os.PathLike) -> DevKeys:
    """Create the key files in `directory` unless they are already there."""
    keys = DevKeys(Path(directory))
    keys.directory.mkdir(parents=True, exist_ok=True)
    if not keys.merchant_certificate.exists():
        key = _new_key(keys.merchant_private_key)
        _write_certificate(keys.merchant_certificate, key, "1900000001", "Jiayi sandbox merchant")
    if not keys.platform_certificate.exists():
        key = _new_key(keys.platform_private_key)
        keys.platform_public_key.write_bytes(key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        _write_certificate(keys.platform_certificate, key, "Tenpay.com Root CA", "Wechatpay sandbox platform")
    return keys


def _new_key(path: Path) -> rsa.RSAPrivateKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)
    return key


def _write_certificate(path: Path, key: rsa.RSAPrivateKey, common_name: str, organisation: str) -> None:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation)])
    now = dt.datetime.now(dt.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
                   .not_valid_after(now + dt.timedelta(days=3650)).sign(key, hashes.SHA256()))
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def _serial_hex(path: Path) -> str:
    return format(x509.load_pem_x509_certificate(path.read_bytes()).serial_number, "X")
