"""Distinct ads: the posts that repeat one ad (reposts with small edits, emoji, reordered lines, new prices) share
an ad id, so that counts of posts can be read next to counts of distinct ads.

A post's text is cleaned (case folded, everything but letters and digits dropped, every number masked as "0")
and cut into lines; each line gives its word 3-grams (a shorter line is one shingle). Shingles never cross a
line, so reordered lines give the same set. `AdIndex` keeps a MinHash (datasketch) of the first post of each ad
in an LSH index: a post joins the ad whose first post's estimated Jaccard similarity with it is highest and at
least `threshold`, else it starts a new ad. Texts of fewer than `min_shingles` shingles are too short to tell
ads apart by similarity: they share an ad only with the same cleaned text.

>>> ad_shingles("Mephedrone 1g - 2000₽ 🔥\\nDelivery: today") == ad_shingles("delivery TODAY\\nmephedrone 2g 3500 ₽")
True
>>> idx = AdIndex()
>>> a = idx.add("Crystal quality one gram 2000 rub\\nfast delivery across the whole city today")
>>> idx.add("🔥 crystal quality one gram 2500 rub\\nfast delivery across the whole city today!!") == a
True
>>> idx.add("completely different text about another product line\\nwith other words entirely") == a
False
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

import numpy as np
from datasketch import MinHash, MinHashLSH

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NON_WORD = re.compile(r"[^\w]+|_")
NUM_PERM = 64
SEED = 1
SCHEME = "affine32"  # named, so that stored signatures stay comparable across datasketch versions


def clean_lines(text: str) -> list[list[str]]:
    """The words of each non-empty line, case folded, numbers masked, punctuation and emoji dropped."""
    out = []
    for line in text.casefold().splitlines():
        words = _NON_WORD.sub(" ", _NUMBER.sub(" 0 ", line)).split()
        if words:
            out.append(words)
    return out


def ad_shingles(text: str, k: int = 3) -> set[str]:
    """Word k-grams of each cleaned line (a line of fewer than k words is one shingle)."""
    out: set[str] = set()
    for words in clean_lines(text):
        if len(words) <= k:
            out.add(" ".join(words))
        else:
            out.update(" ".join(words[i:i + k]) for i in range(len(words) - k + 1))
    return out


def signature(shingles: set[str], num_perm: int = NUM_PERM) -> MinHash:
    m = MinHash(num_perm=num_perm, seed=SEED, scheme=SCHEME)
    m.update_batch([s.encode("utf-8") for s in shingles])
    return m


def to_bytes(m: MinHash) -> bytes:
    return np.asarray(m.hashvalues, dtype=np.uint64).tobytes()


def from_bytes(data: bytes, num_perm: int = NUM_PERM) -> MinHash:
    return MinHash(num_perm=num_perm, seed=SEED, scheme=SCHEME, hashvalues=np.frombuffer(data, dtype=np.uint64))


def exact_key(text: str) -> str:
    """The key of a short text: a hash of its cleaned lines, sorted."""
    lines = sorted(" ".join(w) for w in clean_lines(text))
    return "x:" + hashlib.blake2b("\n".join(lines).encode("utf-8"), digest_size=12).hexdigest()


@dataclass
class AdIndex:
    """Ads seen so far: the first post of each as a MinHash in an LSH index (or, for short texts, its exact key)."""

    threshold: float = 0.4
    min_shingles: int = 4
    num_perm: int = NUM_PERM
    _lsh: MinHashLSH = field(init=False, repr=False)
    _sigs: dict[int, MinHash] = field(init=False, repr=False, default_factory=dict)
    _exact: dict[str, int] = field(init=False, repr=False, default_factory=dict)
    _next: int = field(init=False, default=1)

    def __post_init__(self) -> None:
        self._lsh = MinHashLSH(threshold=self.threshold, num_perm=self.num_perm)

    def known(self, ad_id: int, sig: bytes | None, key: str | None) -> None:
        """Add an ad stored earlier (its first post's signature, or the exact key of a short text)."""
        if sig is not None:
            m = from_bytes(sig, self.num_perm)
            self._sigs[ad_id] = m
            self._lsh.insert(ad_id, m)
        if key is not None:
            self._exact.setdefault(key, ad_id)
        self._next = max(self._next, ad_id + 1)

    def match(self, text: str) -> tuple[int | None, MinHash | None, str | None]:
        """(ad id or None for a new ad, the text's MinHash or None when short, its exact key or None)."""
        sh = ad_shingles(text)
        if len(sh) < self.min_shingles:
            key = exact_key(text)
            return self._exact.get(key), None, key
        m = signature(sh, self.num_perm)
        best, best_j = None, self.threshold
        for ad in self._lsh.query(m):
            j = m.jaccard(self._sigs[ad])
            if j >= best_j and (best is None or j > best_j or ad < best):
                best, best_j = ad, j
        return best, m, None

    def new(self, m: MinHash | None, key: str | None, ad_id: int | None = None) -> int:
        """Start an ad whose first post has MinHash `m` (or exact key `key`); returns its id."""
        ad = ad_id if ad_id is not None else self._next
        self._next = max(self._next, ad + 1)
        if m is not None:
            self._sigs[ad] = m
            self._lsh.insert(ad, m)
        if key is not None:
            self._exact[key] = ad
        return ad

    def add(self, text: str) -> int:
        """The ad id of `text`, starting a new ad when it repeats none seen."""
        ad, m, key = self.match(text)
        return ad if ad is not None else self.new(m, key)
