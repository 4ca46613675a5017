"""Pseudonymisation: author handles, user ids, phone numbers and wallet addresses become keyed hashes.

The people in these posts are not our users. Before anything is stored, identifiers are replaced by an
HMAC-SHA256 of the normalised identifier under a secret key, so the same handle always maps to the same
pseudonym (vendor activity can still be counted) but cannot be reversed without the key.

Pseudonyms use letters only, so a hashed phone number can never be read as a price or quantity later.

>>> p = Pseudonymiser(b"test-key")
>>> p.handle("@Synthetic_Vendor_01") == p.handle("synthetic_vendor_01")
True
>>> p.handle("@synthetic_vendor_01").startswith("u_")
True
>>> p.scrub("пишите @synthetic_vendor_01 или +7 000 000-00-01")  # doctest: +ELLIPSIS
'пишите @u_... или tel_...'
>>> "000" in p.scrub("звони 8 (000) 000 00 01")
False
>>> p.scrub("1г - 4500₽, 0,5г 2700р")  # prices and quantities are left alone
'1г - 4500₽, 0,5г 2700р'
"""
from __future__ import annotations

import hashlib
import hmac
import re

__all__ = ["Pseudonymiser"]

_ALPHABET = "abcdefghijkmnpqrstuvwxyz"  # 24 letters: no l/o to avoid confusion with 1/0

# Ordered: wallets first (long tokens that may contain digit runs a phone pattern would eat).
_WALLET = re.compile(
    r"\b(?:bc1[a-z0-9]{25,59}|[13][a-km-zA-HJ-NP-Z1-9]{25,34}|0x[0-9a-fA-F]{40}|T[1-9A-HJ-NP-Za-km-z]{33})\b"
)
# Phone numbers: an international or trunk prefix and at least 10 digits with the usual separators.
# The prefix is what tells a phone from a price list ("1 500 000 сум" has none).
_PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}|8)[\s\-()]{0,3}\d{2,4}(?:[\s\-()]{0,3}\d{2,4}){2,4}(?!\w)")
# Handles: Telegram/Twitter-style @name (5-32 chars in Telegram; we accept 3+) and t.me/name links.
_HANDLE = re.compile(r"(?<![\w@])@([A-Za-z][A-Za-z0-9_]{2,31})\b")
_TME = re.compile(r"\b(?:https?://)?t\.me/(?!joinchat/|\+)([A-Za-z][A-Za-z0-9_]{3,31})\b")


class Pseudonymiser:
    """Keyed, stable pseudonyms. Construct once with the secret key from the configuration."""

    def __init__(self, key: bytes) -> None:
        if not key:
            raise ValueError("pseudonymisation key is empty")
        self._key = key

    def _digest(self, kind: str, value: str, length: int = 10) -> str:
        mac = hmac.new(self._key, f"{kind}:{value}".encode(), hashlib.sha256).digest()
        n = int.from_bytes(mac[:10], "big")
        letters = []
        for _ in range(length):
            n, r = divmod(n, len(_ALPHABET))
            letters.append(_ALPHABET[r])
        return "".join(letters)

    def handle(self, handle: str | None) -> str | None:
        """Pseudonym of an author handle or user id; None stays None."""
        if handle is None or not str(handle).strip():
            return None
        norm = str(handle).strip().lstrip("@").lower()
        return "u_" + self._digest("handle", norm)

    def phone(self, phone: str) -> str:
        return "tel_" + self._digest("phone", re.sub(r"\D", "", phone))

    def wallet(self, wallet: str) -> str:
        return "wallet_" + self._digest("wallet", wallet)

    def scrub(self, text: str) -> str:
        """Replace handles, t.me links to people or channels, phone numbers and wallets inside a text."""
        text = _WALLET.sub(lambda m: self.wallet(m.group(0)), text)
        text = _PHONE.sub(lambda m: self.phone(m.group(0)), text)
        text = _TME.sub(lambda m: "t.me/" + self.handle(m.group(1)), text)
        return _HANDLE.sub(lambda m: "@" + self.handle(m.group(1)), text)
