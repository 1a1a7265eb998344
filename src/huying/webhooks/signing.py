"""Standard Webhooks signatures (standardwebhooks.com, spec 1.0): HMAC-SHA256 over
``{webhook-id}.{webhook-timestamp}.{body}``, sent as ``webhook-signature: v1,<base64>``; secrets
are ``whsec_`` + base64 of 24–64 random bytes. Standard library only: receivers import it through
``huying.client`` without the server's dependencies."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping

PREFIX = "whsec_"
_MIN_KEY, _MAX_KEY = 24, 64
DEFAULT_TOLERANCE_SECONDS = 300  # the spec's recommendation: five minutes either way


class WebhookVerificationError(ValueError):
    """A delivery that is not provably from huying: headers missing, too old or new, or no
    signature matching the secret."""


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def key_of(secret: str) -> bytes:
    """The HMAC key a ``whsec_…`` secret stands for (ValueError for anything else)."""
    if not secret.startswith(PREFIX):
        raise ValueError("a signing secret looks like whsec_<base64>")
    try:
        key = base64.b64decode(secret[len(PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the part after whsec_ must be base64") from None
    if not _MIN_KEY <= len(key) <= _MAX_KEY:
        raise ValueError(f"a signing secret holds {_MIN_KEY} to {_MAX_KEY} bytes, not {len(key)}")
    return key


def signature(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(key_of(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, webhook_id, timestamp, body),
    }


def verify_webhook(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> str:
    """Check a delivery as received (the raw body, before any JSON parsing); returns its
    ``webhook-id`` — the key to process each event once. Raises ``WebhookVerificationError``.
    Signatures are compared in constant time; a timestamp beyond ``tolerance_seconds`` of
    ``now`` (default: the wall clock) is refused, so a captured delivery cannot be replayed later."""
    lower = {k.lower(): v for k, v in headers.items()}
    webhook_id, stamp, signatures = (
        lower.get(h, "") for h in ("webhook-id", "webhook-timestamp", "webhook-signature")
    )
    if not (webhook_id and stamp and signatures):
        raise WebhookVerificationError("webhook-id, webhook-timestamp and webhook-signature are all needed")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not whole seconds since the epoch") from None
    if abs((time.time() if now is None else now) - timestamp) > tolerance_seconds:
        raise WebhookVerificationError(
            "webhook-timestamp is outside the tolerance: a stale or replayed delivery"
        )
    expected = signature(secret, webhook_id, timestamp, body).encode()
    for candidate in signatures.split():
        if hmac.compare_digest(candidate.encode(), expected):
            return webhook_id
    raise WebhookVerificationError("no webhook-signature matches this secret")
