"""Text and a perceptual hash from an image held in memory: Tesseract OCR (pytesseract) and imagehash's pHash.

Used by the Telegram listener, backfill and export importer (`crawlers/telegram/photos.py`) for the price
lists shops post as pictures. The image is read from bytes, never written to disk by us (pytesseract hands
Tesseract a temporary file of the *prepared* black-and-white page and removes it), and nothing of it is kept
but the text and a 64-bit pHash.

- Limits first: more than `max_bytes` or `max_pixels` (a decompression bomb) is refused with `ImageRejected`
  before the pixels are decoded; so is anything Pillow cannot read.
- Preparation for OCR (`prepare`): grayscale; upscaled so small print reaches the size Tesseract reads best,
  large pages scaled down to bound the time; a 3x3 median against grain; the background estimated (grey
  dilation, then a wide blur) and divided out, which flattens a photo behind the text and uneven light; then
  Otsu's threshold.
- OCR with the Debian language packs (`tesseract-ocr-rus`, `-kaz`, `-kir`, `-uzb`, `-uzb-cyrl`, `-tgk`, `-eng`),
  one Tesseract process per image limited to one thread (`OMP_THREAD_LIMIT=1`: on a shared machine several
  single-threaded readers beat one multi-threaded one).
- Clean-up (`tidy`): blank lines dropped; in a line mostly in Cyrillic, a short word Tesseract spelt with Latin
  look-alikes (`com` for `сом`, `2r` for `2г`) is written in Cyrillic; `I`, `l` or `|` before a weight unit is the
  digit one (`lg`, `Ir`).

>>> tidy("Гашиш 2r - 5200 com\\n\\n  Mephedrone lg - 90 USD ")
'Гашиш 2г - 5200 сом\\nMephedrone 1g - 90 USD'
>>> tidy("Мефедрон Ir - 4500 руб, Iкг, ir - 15000 tr")
'Мефедрон 1г - 4500 руб, 1кг, 1г - 15000 тг'
"""
from __future__ import annotations

import io
import os
import re
import shutil
import warnings
from dataclasses import dataclass

__all__ = ["ImageRejected", "ImageText", "Ocr", "prepare", "tidy", "phash_of", "missing",
           "LANGUAGES", "language_packs"]

# Tesseract's names of the language packs the focus region needs (Debian: tesseract-ocr-<name with - for _>).
LANGUAGES = ("rus", "kaz", "kir", "uzb", "uzb_cyrl", "tgk", "eng")
_TARGET_WIDTH = 1600  # pages narrower than this are upscaled (print of 15-30 px becomes 30-60 px high)
_MAX_WIDTH = 3000  # wider ones scaled down: the time grows with the pixels, the text is large anyway


class ImageRejected(ValueError):
    """The image is too large or not an image; the message says which."""


@dataclass(frozen=True)
class ImageText:
    text: str  # what OCR read, tidied ("" when nothing)
    phash: int  # imagehash pHash, 64 bits as a signed integer (fits BIGINT)
    width: int
    height: int


def missing(languages: str = "+".join(LANGUAGES)) -> str | None:
    """Why OCR cannot run here (a package, the tesseract program or a language pack), or None."""
    try:
        import imagehash  # noqa: F401
        import pytesseract
    except ImportError as exc:
        return f"the Python package {exc.name} is missing: pip install 'npswatch[ocr]'"
    if not shutil.which(pytesseract.pytesseract.tesseract_cmd):
        return "the tesseract program is missing: apt-get install tesseract-ocr"
    try:
        have = set(pytesseract.get_languages(config=""))
    except Exception as exc:  # noqa: BLE001 - any failure to run tesseract means OCR cannot run
        return f"tesseract does not run: {exc}"
    lack = [lang for lang in languages.split("+") if lang not in have]
    if lack:
        pkgs = " ".join(f"tesseract-ocr-{lang.replace('_', '-')}" for lang in lack)
        return f"Tesseract language data missing ({', '.join(lack)}): apt-get install {pkgs}"
    return None


def language_packs(languages: list[str] | tuple[str, ...] | str) -> str:
    """Tesseract's `-l` argument from a list of pack names ("rus", "uzb_cyrl"; "uzb-cyrl" is accepted too)."""
    items = languages.split("+") if isinstance(languages, str) else list(languages)
    out = [x.strip().replace("-", "_") for x in items if x.strip()]
    if not out:
        raise ValueError("no OCR language given")
    return "+".join(dict.fromkeys(out))


def _signed(u: int) -> int:
    return u - (1 << 64) if u >= 1 << 63 else u


def phash_of(img) -> int:
    import imagehash

    bits = imagehash.phash(img).hash.flatten()
    return _signed(int("".join("1" if b else "0" for b in bits), 2))


def _otsu(values) -> int:
    import numpy as np

    hist = np.bincount(values.ravel(), minlength=256).astype(float)
    p = hist / max(hist.sum(), 1.0)
    w = np.cumsum(p)
    mu = np.cumsum(p * np.arange(256))
    between = (mu[-1] * w - mu) ** 2 / (w * (1 - w) + 1e-12)
    return int(np.argmax(between))


def prepare(img):
    """The page as Tesseract reads it best: black text on white, large enough, background flattened."""
    import numpy as np
    from PIL import Image, ImageFilter, ImageOps

    g = ImageOps.exif_transpose(img).convert("L")
    if g.width < _TARGET_WIDTH or g.width > _MAX_WIDTH:
        s = min(_TARGET_WIDTH / g.width, 4.0) if g.width < _TARGET_WIDTH else _MAX_WIDTH / g.width
        g = g.resize((max(1, round(g.width * s)), max(1, round(g.height * s))), Image.LANCZOS)
    g = g.filter(ImageFilter.MedianFilter(3))
    background = g.filter(ImageFilter.MaxFilter(15)).filter(ImageFilter.GaussianBlur(10))
    a = np.asarray(g, dtype=np.float32)
    b = np.asarray(background, dtype=np.float32) + 1.0
    flat = np.clip(a / b * 255.0, 0, 255).astype(np.uint8)
    if np.median(flat) < 128:  # light text on a dark page: invert, Tesseract wants dark on light
        flat = 255 - flat
    t = _otsu(flat)
    return Image.fromarray(np.where(flat > t, 255, 0).astype(np.uint8))


# Latin letters Tesseract puts for Cyrillic ones in a Cyrillic line (shapes alike in DejaVu and most fonts).
_TO_CYRILLIC = str.maketrans("aceopxyrkmnutABCEHKMOPTXY", "асеорхугкмпитАВСЕНКМОРТХУ")
_LATIN_WORD = re.compile(r"(?<![^\W\d_])([A-Za-z]+)(?![^\W\d_])")
_CYR = re.compile(r"[\u0400-\u04ff]")
_FOLDABLE = frozenset("aceopxyrkmnutABCEHKMOPTXY")
# "1г", "1g" read as "Ir", "lg", "|г": a one-stroke letter before a weight unit is the digit one.
_ONE = re.compile(r"(?<![^\W_])[Iil|](?=(?:г|гр|r|g|gr|кг|kg|мг|mg|мл|ml)(?![^\W\d_]))")


def tidy(text: str) -> str:
    lines = []
    for line in text.splitlines():
        line = " ".join(line.split())
        if not line:
            continue
        line = _ONE.sub("1", line)
        words = _LATIN_WORD.findall(line)
        if words:
            foldable = {w for w in words if len(w) <= 4 and set(w) <= _FOLDABLE}
            if len(_CYR.findall(line)) > sum(len(w) for w in words if w not in foldable):
                line = _LATIN_WORD.sub(lambda m, f=foldable: m.group(1).translate(_TO_CYRILLIC) if m.group(1) in f
                                       else m.group(1), line)
        lines.append(line)
    return "\n".join(lines)


class Ocr:
    """Reads images: `read(data)` -> ImageText. One instance per process; `read` is safe from any thread (each
    call runs its own Tesseract process)."""

    def __init__(self, languages: str | list[str] = "rus+eng", *, max_bytes: int = 10 << 20,
                 max_pixels: int = 40_000_000, timeout: float = 60.0) -> None:
        self.languages = language_packs(languages)
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels
        self.timeout = timeout
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # inherited by the tesseract processes

    def open(self, data: bytes):
        """The decoded image, within the limits, or ImageRejected."""
        from PIL import Image, UnidentifiedImageError

        if len(data) > self.max_bytes:
            raise ImageRejected(f"{len(data) / 1e6:.1f} MB is over the {self.max_bytes / 1e6:.1f} MB limit")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                img = Image.open(io.BytesIO(data))
                if img.width * img.height > self.max_pixels:
                    raise ImageRejected(f"{img.width}x{img.height} pixels is over the {self.max_pixels:,} limit")
                img.load()
        except ImageRejected:
            raise
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError,
                Image.DecompressionBombWarning) as exc:
            raise ImageRejected(f"not a readable image ({type(exc).__name__})") from None
        return img

    def read(self, data: bytes) -> ImageText:
        import pytesseract

        img = self.open(data)
        h = phash_of(img.convert("RGB"))
        page = prepare(img)
        try:
            raw = pytesseract.image_to_string(page, lang=self.languages, config="--psm 6", timeout=self.timeout)
        except RuntimeError as exc:  # pytesseract's timeout
            raise ImageRejected(f"OCR gave up after {self.timeout:.0f} s ({exc})") from None
        return ImageText(tidy(raw), h, img.width, img.height)
