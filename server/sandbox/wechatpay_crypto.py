"""WeChat Pay v3 cryptography from the platform's side, written independently of the SDK.

The sandbox checks merchants' `WECHATPAY2-SHA256-RSA2048` request signatures, signs its
own answers and notifications, and encrypts resources with AEAD_AES_256_GCM. Using plain
`cryptography` here, not the SDK the client uses, means a test passing proves the two
sides agree on the protocol rather than share a mistake.
"""
from __future__ import annotations

import base64
import re
import secrets
import string
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from cryptography.x509 import load_pem_x509_certificate

from server.sandbox.keys import DevKeys

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
MAX_CLOCK_SKEW_SECONDS = 300
_AUTH_PARAM = re.compile(r'(\w+)="([^"]*)"')


def sign(key: RSAPrivateKey, message: str) -> str:
    return base64.b64encode(key.sign(message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())).decode()


def verify(key: RSAPublicKey, message: str, signature: str) -> bool:
    try:
        key.verify(base64.b64decode(signature, validate=True), message.encode("utf-8"), padding.PKCS1v15(),
                   hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def nonce(length: int = 32) -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(length))


class MerchantVerifier:
    """Checks the `Authorization` header of a merchant's request."""

    def __init__(self, keys: DevKeys, mchid: str) -> None:
        certificate = load_pem_x509_certificate(keys.merchant_certificate.read_bytes())
        self._public_key = certificate.public_key()
        self._serial = format(certificate.serial_number, "X")
        self._mchid = mchid

    def problem(self, authorization: str, method: str, url: str, body: str) -> str | None:
        """Why the request is not the merchant's, or None when it is."""
        scheme, _, rest = authorization.partition(" ")
        if scheme != SIGNATURE_TYPE:
            return "Authorization 认证类型错误"
        params = dict(_AUTH_PARAM.findall(rest))
        if params.get("mchid") != self._mchid:
            return "商户号与签名不匹配"
        if params.get("serial_no", "").upper() != self._serial:
            return "商户证书序列号有误"
        try:
            timestamp = int(params.get("timestamp", ""))
        except ValueError:
            return "签名时间戳有误"
        if abs(time.time() - timestamp) > MAX_CLOCK_SKEW_SECONDS:
            return "签名时间戳已过期"
        message = f"{method}\n{url}\n{timestamp}\n{params.get('nonce_str', '')}\n{body}\n"
        if not verify(self._public_key, message, params.get("signature", "")):
            return "签名错误"
        return None


class PlatformSigner:
    """Signs answers and notifications as WeChat Pay does, under the configured serial."""

    def __init__(self, keys: DevKeys, serial: str) -> None:
        key = load_pem_private_key(keys.platform_private_key.read_bytes(), password=None)
        if not isinstance(key, RSAPrivateKey):
            raise TypeError("the platform key must be RSA")
        self._key = key
        self.serial = serial

    def headers(self, body: str, *, timestamp: int | None = None, serial: str | None = None,
                signed_body: str | None = None) -> dict[str, str]:
        """Signature headers for `body`; the keyword arguments exist to forge faulty ones."""
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        once = nonce()
        message = f"{stamp}\n{once}\n{body if signed_body is None else signed_body}\n"
        return {"Wechatpay-Timestamp": stamp, "Wechatpay-Nonce": once, "Wechatpay-Signature": sign(self._key, message),
                "Wechatpay-Serial": serial or self.serial, "Wechatpay-Signature-Type": SIGNATURE_TYPE}


def encrypt(apiv3_key: str, plaintext: str, associated_data: str) -> dict[str, str]:
    """An AEAD_AES_256_GCM resource; the nonce is 12 ASCII characters, as WeChat Pay sends it."""
    resource_nonce = nonce(12)
    sealed = AESGCM(apiv3_key.encode("utf-8")).encrypt(resource_nonce.encode(), plaintext.encode("utf-8"),
                                                       associated_data.encode("utf-8"))
    return {"algorithm": "AEAD_AES_256_GCM", "ciphertext": base64.b64encode(sealed).decode(),
            "associated_data": associated_data, "nonce": resource_nonce}
