"""HMAC-SHA256 request signatures: the platform's events, the carrier's callbacks, our own calls.

Every signature of the back office is the lowercase hex HMAC-SHA256 of "{timestamp}.{raw body}".
"""

import hashlib
import hmac


def sign(body: bytes, timestamp: int | str, secret: str) -> str:
    """Lowercase hex HMAC-SHA256 of "{timestamp}.{raw body}"."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(body: bytes, timestamp: int | str, signature: str, secret: str) -> bool:
    """True when `signature` (any case, surrounding blanks ignored) signs the body, in constant time."""
    expected = sign(body, timestamp, secret)
    # Compared as bytes: compare_digest raises TypeError on a str with non-ASCII characters.
    return hmac.compare_digest(expected.encode(), signature.strip().lower().encode())
