"""Pseudonymisation: handles, user ids, phone numbers, e-mails and wallet addresses become keyed hashes.

The people in these posts are not our users. Before anything is stored, identifiers are replaced by an
HMAC-SHA256 of the normalised identifier under a secret key, so the same handle always maps to the same
pseudonym (vendor activity can still be counted) but cannot be reversed without the key.

`scrub()` is the one scrubber every stored, snapshotted, exported or served text passes. It finds identifiers
in the forms people write them: `@handle`, `тг@handle`, full-width `＠handle`, t.me / telegram.me / t.me/s/ /
tg://resolve links, phone numbers with or without `+`, with a trunk `8` or `0` (checked against the
numbering plan of the source's country with `phonenumbers`), wa.me and other messenger links, e-mails and
wallet addresses (Bitcoin and Litecoin in legacy and bech32 form, either case; Ethereum, Tron, Monero).
Digits of other scripts (full-width, Arabic-Indic...) are read as digits. Phone numbers are normalised to
E.164 first, so `+7 701 123 45 67`, `87011234567` and `wa.me/77011234567` get one pseudonym.

Pseudonyms use letters only, so a hashed phone number can never be read as a price or quantity later, and
they are fixed points: scrubbing a scrubbed text changes nothing.

>>> p = Pseudonymiser(b"test-key")
>>> p.handle("@Synthetic_Vendor_01") == p.handle("synthetic_vendor_01")
True
>>> p.handle("@synthetic_vendor_01").startswith("u_")
True
>>> p.scrub("пишите @synthetic_vendor_01 или +7 000 000-00-01")  # doctest: +ELLIPSIS
'пишите @u_... или tel_...'
>>> "000" in p.scrub("звони 8 (000) 000 00 01")
False
>>> p.scrub("+7 701 123 45 67") == p.scrub("87011234567") == p.scrub("77011234567")
True
>>> p.scrub("1г - 4500₽, 0,5г 2700р")  # prices and quantities are left alone
'1г - 4500₽, 0,5г 2700р'
>>> s = p.scrub("https://t.me/s/synthetic_vendor_01"); s == p.scrub(s)
True
"""
from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Callable
from typing import Any

import phonenumbers

__all__ = ["Pseudonymiser", "is_pseudonym"]

_ALPHABET = "abcdefghijkmnpqrstuvwxyz"  # 24 letters: no l/o to avoid confusion with 1/0
_PSEUDONYM = re.compile(r"(?:u|tel|email|wallet|inv)_[a-km-np-z]{10}")


def _fold_table() -> dict[int, int]:
    """One character for one character (so match positions carry over to the original text): full-width
    ASCII to ASCII, decimal digits of every script to 0-9, exotic spaces and dashes to ' ' and '-'."""
    table = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
    table[0x3000] = 0x20
    for cp in range(0x80, 0x10000):
        ch = chr(cp)
        if unicodedata.category(ch) == "Nd":
            table[cp] = 0x30 + unicodedata.digit(ch)
        elif unicodedata.category(ch) == "Zs":
            table[cp] = 0x20
    for cp in (0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2212, 0xFE63):
        table[cp] = 0x2D
    return table


_FOLD = _fold_table()
_FOLD_CHARS = {chr(k): chr(v) for k, v in _FOLD.items()}


def _char_class(codes: list[int]) -> str:
    """A regex character class of the code points (runs written as ranges)."""
    runs: list[list[int]] = []
    for c in sorted(codes):
        if runs and runs[-1][1] == c - 1:
            runs[-1][1] = c
        else:
            runs.append([c, c])
    return "[" + "".join(re.escape(chr(a)) + ("" if a == b else "-" + re.escape(chr(b))) for a, b in runs) + "]"


_FOLDABLE = re.compile(_char_class(list(_FOLD)))


def _fold(text: str) -> str:
    """`text.translate(_FOLD)`; most texts have nothing to fold, and a few characters replaced one by one cost
    less than `translate` looking every character up."""
    return _FOLDABLE.sub(lambda m: _FOLD_CHARS[m.group()], text)

# Telegram links to a user, bot or channel: the name is pseudonymised, the rest of the link kept.
_NAME = r"([A-Za-z][A-Za-z0-9_]{2,31})"
_TME = re.compile(
    r"(?<![\w.])(?i:(?:https?://)?(?:www\.)?(?:t|telegram)\.(?:me|dog)/(?:s/)?)"
    r"(?!(?i:joinchat|addstickers|addemoji|share|iv|proxy|socks|c)(?:[/?]|\b))" + _NAME + r"(?![\w])"
)
_TME_INVITE = re.compile(r"(?<![\w.])(?i:(?:https?://)?(?:www\.)?(?:t|telegram)\.(?:me|dog)/(?:joinchat/|\+))([\w-]{6,64})")
_TG_RESOLVE = re.compile(r"(?i:tg://resolve\?(?:[\w=&]*&)?domain=)" + _NAME)
_TG_USER = re.compile(r"(?i:tg://(?:user|openmessage)\?(?:user_)?id=)(\d{1,20})")
# Messenger links that carry a phone number.
_MSG_PHONE = re.compile(
    r"(?i:(?:https?://)?(?:wa\.me/|api\.whatsapp\.com/send/?\?phone=|(?:whatsapp|viber)://[\w/]*\?(?:phone|number)=))"
    r"(%2B|\+)?(\d[\d\-]{6,20}\d)"
)
_EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.)+[A-Za-z]{2,24}(?![\w-])"
)
_B58 = "1-9A-HJ-NP-Za-km-z"
# Base58 forms are not taken inside base64 (an inline image's data: `/`, `+`, `=` around the token).
_WALLET = re.compile(
    r"(?<![A-Za-z0-9_])(?:"
    r"(?i:bc1|ltc1|tb1)[a-zA-Z0-9]{25,87}"  # bech32 (BTC, LTC), either case
    r"|0x[0-9a-fA-F]{40}"  # Ethereum and tokens
    r")(?![A-Za-z0-9_])"
    r"|(?<![A-Za-z0-9_/+=])(?:"
    rf"[13][{_B58}]{{25,34}}|[LM][{_B58}]{{26,33}}"  # legacy BTC, LTC
    rf"|T[{_B58}]{{33}}"  # Tron (USDT TRC20)
    rf"|[48][0-9AB][{_B58}]{{93}}"  # Monero
    r")(?![A-Za-z0-9_/+=])"
)
# A run of digits with the separators phone numbers are written with; what it is decides `_phone_key`.
_PHONE = re.compile(r"(?<![\w+/#&%.,-])(\+|00(?=[1-9]))?[ (]{0,2}\d(?:[ \-()]{0,3}\d){7,16}(?![\w])")
_PHONE_IN_TEL = re.compile(r"(?i:tel:)\s*(\+?[\d\-() ]{7,24}\d)")
_HANDLE = re.compile(r"(?<![A-Za-z0-9_@])@" + _NAME + r"(?![\w])")
# Necessary parts of a match of _EMAIL (an `@` before a domain), _WALLET (26 letters and digits in a row: the
# shortest address) and _PHONE (eight digits): cheap to look for, so the full patterns run only where they may match.
_MAY_EMAIL = re.compile(r"@[A-Za-z0-9][A-Za-z0-9-]{0,62}\.")
_MAY_WALLET = re.compile(r"[A-Za-z0-9]{26}")
_MAY_PHONE = re.compile(r"\d(?:[ \-()]{0,3}\d){7}")
# A private channel's message link (every post of an import has one): nothing in it is an identifier. Its digits
# follow a `/` (where `_PHONE` and `_WALLET` start no match), `_TME` skips `c/`, and it has no `@`, `tel:` or
# messenger host; so `scrub` returns it as it is, without running the patterns.
_PRIVATE_LINK = re.compile(r"https://t\.me/c/[0-9]{1,20}/[0-9]{1,20}")

# Where a number with a trunk 0 and no country code is tried when the source names no country: the
# project's focus markets, in the order a bare local number is most likely to belong to them.
_LOCAL_REGIONS = ("KG", "UZ", "TJ", "KZ", "RU", "BY", "GE", "MD", "RS", "UA", "AZ", "AM", "TM")


def is_pseudonym(value: str) -> bool:
    """True for a value this module produced (so it is never hashed again)."""
    return bool(_PSEUDONYM.fullmatch(value))


def _valid(number: str, region: str | None) -> str | None:
    try:
        n = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(n):
        return None
    return phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164)


def _phone_key(digits: str, plus: bool, region: str | None) -> str | None:
    """The E.164 form of a digit run if it is a phone number, else None (a price, a date, an id)."""
    if plus:
        if not 8 <= len(digits) <= 15:
            return None
        return _valid("+" + digits, None) or "+" + digits
    if len(digits) > 15 or len(digits) < 9:
        return None
    if digits[0] == "8" and len(digits) == 11:  # trunk 8 (RU, KZ, BY...): a phone even if unassigned
        return _valid(digits, region or "RU") or "+7" + digits[1:]
    if region and (e164 := _valid(digits, region)):
        return e164
    if digits[0] != "0" and len(digits) >= 10 and (e164 := _valid("+" + digits, None)):
        return e164
    if digits[0] == "0" and len(digits) <= 11:
        for r in _LOCAL_REGIONS:
            if e164 := _valid(digits, r):
                return e164
    return None


_MEMO_SIZE = 100_000  # pseudonyms remembered per Pseudonymiser (about 20 MB at most)


class Pseudonymiser:
    """Keyed, stable pseudonyms. Construct once with the secret key from the configuration."""

    def __init__(self, key: bytes) -> None:
        if not key:
            raise ValueError("pseudonymisation key is empty")
        self._key = key
        self._memo: dict[tuple[str, str, int], str] = {}

    def _digest(self, kind: str, value: str, length: int = 10) -> str:
        # Memoised: a channel's posts repeat its author and URL handle on every post (the HMAC was a tenth of an
        # import's time). Bounded, so a stream of distinct handles cannot grow it without limit.
        memo_key = (kind, value, length)
        found = self._memo.get(memo_key)
        if found is not None:
            return found
        mac = hmac.new(self._key, f"{kind}:{value}".encode(), hashlib.sha256).digest()
        n = int.from_bytes(mac[:10], "big")
        letters = []
        for _ in range(length):
            n, r = divmod(n, len(_ALPHABET))
            letters.append(_ALPHABET[r])
        out = "".join(letters)
        if len(self._memo) >= _MEMO_SIZE:
            self._memo.clear()
        self._memo[memo_key] = out
        return out

    def handle(self, handle: str | None) -> str | None:
        """Pseudonym of an author handle or user id; None stays None, a pseudonym stays itself, and a handle
        that is a phone number gets that number's pseudonym."""
        if handle is None or not str(handle).strip():
            return None
        raw = str(handle).strip()
        if is_pseudonym(raw.lstrip("@")):
            return raw.lstrip("@")
        folded = _fold(raw)
        if (m := _PHONE.fullmatch(folded)) and (key := _phone_key(re.sub(r"\D", "", folded), bool(m.group(1)), None)):
            return self._phone(key)
        norm = folded.lstrip("@").lower()
        return "u_" + self._digest("handle", norm)

    def _phone(self, e164: str) -> str:
        return "tel_" + self._digest("phone", e164.lstrip("+"))

    def phone(self, phone: str, region: str | None = None) -> str:
        """Pseudonym of a phone number in any writing ('+7 701...', '8701...', '0555 123 456' with region)."""
        folded = _fold(phone)
        digits = re.sub(r"\D", "", folded)
        key = _phone_key(digits, folded.lstrip().startswith("+"), region)
        return self._phone(key or digits)

    def wallet(self, wallet: str) -> str:
        w = wallet.lower() if wallet[:4].lower() in ("bc1q", "bc1p", "ltc1", "tb1q") or wallet[:3].lower() == "bc1" \
            else wallet
        return "wallet_" + self._digest("wallet", w)

    def email(self, email: str) -> str:
        return "email_" + self._digest("email", email.lower())

    def scrub(self, text: str, region: str | None = None) -> str:
        """Replace every identifier of a person inside a text (see the module docstring for the forms).
        `region`: ISO country of the source, for phone numbers written without a country code."""
        if not text or _PRIVATE_LINK.fullmatch(text):
            return text
        region = region.upper() if region else None
        folded = _fold(text)
        low = folded.lower()
        fold = _Folded(text, folded)  # the folded text, computed again only after a replacement
        if "t.me" in low or "telegram." in low:
            text = _sub(fold(text), _TME, lambda m: m.group(0)[: m.start(1) - m.start(0)] + self.handle(m.group(1)))
            text = _sub(fold(text), _TME_INVITE, lambda m: m.group(0)[: m.start(1) - m.start(0)] + "inv_"
                        + self._digest("invite", m.group(1)))
        if "tg://" in low:
            text = _sub(fold(text), _TG_RESOLVE, lambda m: m.group(0)[: m.start(1) - m.start(0)] + self.handle(m.group(1)))
            text = _sub(fold(text), _TG_USER, lambda m: m.group(0)[: m.start(1) - m.start(0)]
                        + self.handle(f"user{m.group(1)}"))
        if "wa.me" in low or "whatsapp" in low or "viber" in low:
            text = _sub(fold(text), _MSG_PHONE, lambda m: m.group(0)[: m.start(1 if m.group(1) else 2) - m.start(0)]
                        + self._phone(_phone_key(re.sub(r"\D", "", m.group(2)), True, None) or m.group(2)))
        if "tel:" in low:
            text = _sub(fold(text), _PHONE_IN_TEL, lambda m: m.group(0)[: m.start(1) - m.start(0)]
                        + self.phone(m.group(1), region))
        # each pattern runs only where its quick test (a part every match of it has) finds something: most texts
        # have no address, no wallet-length token and no run of eight digits
        if "@" in folded and _MAY_EMAIL.search((pair := fold(text))[1]):
            text = _sub(pair, _EMAIL, lambda m: self.email(m.group(0)))
        if _MAY_WALLET.search((pair := fold(text))[1]):
            text = _sub(pair, _WALLET, lambda m: self.wallet(m.group(0)) if _wallet_like(m.group(0)) else None)
        if _MAY_PHONE.search((pair := fold(text))[1]):
            text = _sub(pair, _PHONE, lambda m: (self._phone(k) if (k := _phone_key(
                re.sub(r"\D", "", m.group(0)), bool(m.group(1)), region)) else None))
        if "@" in folded:
            text = _sub(fold(text), _HANDLE, lambda m: "@" + self.handle(m.group(1)))
        return text

    def scrub_value(self, value: Any, region: str | None = None, *, names: frozenset[str] = frozenset()) -> Any:
        """`scrub` applied to every string inside a JSON-like value (dicts, lists); the values under keys in
        `names` are taken as handles (channel or user names) and pseudonymised whole."""
        if isinstance(value, str):
            return self.scrub(value, region)
        if isinstance(value, dict):
            return {k: (self.handle(str(v)) if k in names and v is not None and not isinstance(v, (dict, list))
                        else self.scrub_value(v, region, names=names)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.scrub_value(v, region, names=names) for v in value]
        return value


def _wallet_like(token: str) -> bool:
    low = token.lower()
    if low.startswith(("bc1", "ltc1", "tb1", "0x")):
        return True
    # A base58 address mixes both cases (and, but for a fixed-length Tron address, digits); a long word that
    # happens to fit the alphabet does not.
    mixed = any(c.isupper() for c in token[1:]) and any(c.islower() for c in token)
    return mixed and (token[0] == "T" and len(token) == 34 or any(c.isdigit() for c in token[1:]))


class _Folded:
    """`fold(text)` -> (text, its folded form), translating again only when `text` is not the last one seen:
    `scrub` runs several patterns over one text, and most of them replace nothing."""

    __slots__ = ("text", "folded")

    def __init__(self, text: str, folded: str) -> None:
        self.text, self.folded = text, folded

    def __call__(self, text: str) -> tuple[str, str]:
        if text is not self.text:
            self.text, self.folded = text, _fold(text)
        return text, self.folded


def _sub(pair: tuple[str, str] | str, pattern: re.Pattern, repl: Callable[[re.Match], str | None]) -> str:
    """`pattern.sub` run on the folded text (full-width forms and other scripts' digits read as ASCII), with
    the replacements put into the original; `repl` returning None, or a pseudonym already there, keeps the
    match as written. `pair`: the text, or (text, its folded form) when the caller has it."""
    text, folded = pair if isinstance(pair, tuple) else (pair, _fold(pair))
    out, last = [], 0
    for m in pattern.finditer(folded):
        if is_pseudonym(m.group(m.lastindex or 0)) if m.lastindex else False:
            continue
        new = repl(m)
        if new is None:
            continue
        out.append(text[last : m.start()])
        out.append(new)
        last = m.end()
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)
