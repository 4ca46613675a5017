"""Synthetic price-list images for OCR tests and the OCR benchmark: text rendered with a Debian font.

Every image is drawn from fixed parameters (`Spec`): the lines of text, the canvas size, the font size, and
what spoils it (Gaussian noise, blur, a photo-like background). Same spec, same pixels. The text is invented
(a "synthetic shop"), in Cyrillic or Latin script, laid out as Telegram shops lay out their price lists: a
heading, one product per line with weight and price, a delivery line.

The font is DejaVu Sans from Debian's `fonts-dejavu` (found with `fc-match` or in the usual folders); Pillow
draws it. `encode()` gives the bytes a channel would post (JPEG by default).

>>> spec = Spec(lines=CYRILLIC_LIST, size=(900, 420))
>>> img = render(spec)
>>> img.size, img.mode
((900, 420), 'RGB')
>>> render(spec).tobytes() == img.tobytes()
True
"""
from __future__ import annotations

import io
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

__all__ = ["Spec", "render", "encode", "font_path", "CYRILLIC_LIST", "LATIN_LIST", "KAZAKH_LIST", "SPECS"]

_FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/local/share/fonts")

CYRILLIC_LIST = (
    "СИНТЕТИЧЕСКИЙ ПРАЙС (тестовые данные)",
    "Мефедрон 1г - 4500 руб",
    "Альфа ПВП 0.5г - 3000 руб",
    "Гашиш 2г - 5200 руб",
    "Доставка: Москва, Казань",
)
LATIN_LIST = (
    "SYNTHETIC PRICE LIST (test data)",
    "Mephedrone 2 grams - 90 USD",
    "Ketamine 5 grams - 120 USD",
    "Cocaine 1 gram - 80 USD",
    "Shipping: Berlin, Prague",
)
KAZAKH_LIST = (
    "СИНТЕТИКАЛЫҚ БАҒАЛАР (тест)",
    "Мефедрон 1г - 15000 тг",
    "Гашиш 2г - 12000 тг",
    "Жеткізу: Алматы, Астана",
)


@dataclass(frozen=True)
class Spec:
    """How to draw one image. `noise`: standard deviation of Gaussian pixel noise (0-255 scale); `blur`: radius
    of a Gaussian blur over the finished image; `background`: "plain" (white) or "photo" (smooth colour waves and
    grain, like a photo behind the text); `seed`: the noise and background draws."""

    lines: tuple[str, ...]
    size: tuple[int, int] = (900, 420)
    font_size: int = 30
    noise: float = 0.0
    blur: float = 0.0
    background: str = "plain"
    seed: int = 0
    ink: tuple[int, int, int] = (20, 20, 20)
    margin: tuple[int, int] = field(default=(28, 24))


# The fixed set the OCR tests and the benchmark use: each text clean, noisy and blurred, and on a photo.
SPECS: dict[str, Spec] = {}
for _name, _lines in (("cyrillic", CYRILLIC_LIST), ("latin", LATIN_LIST), ("kazakh", KAZAKH_LIST)):
    SPECS[f"{_name}-clean"] = Spec(lines=_lines)
    SPECS[f"{_name}-noise-blur"] = Spec(lines=_lines, noise=22.0, blur=1.1, seed=1)
    SPECS[f"{_name}-photo"] = Spec(lines=_lines, noise=14.0, blur=0.8, background="photo", seed=2)
    SPECS[f"{_name}-small"] = Spec(lines=_lines, size=(560, 260), font_size=19, seed=3)


def font_path() -> Path:
    """DejaVu Sans (Debian: fonts-dejavu-core); FileNotFoundError naming the package when it is missing."""
    for d in _FONT_DIRS:
        p = Path(d) / "DejaVuSans.ttf"
        if p.is_file():
            return p
    if shutil.which("fc-match"):
        out = subprocess.run(["fc-match", "-f", "%{file}", "DejaVu Sans"], capture_output=True, text=True, check=False)
        if out.returncode == 0 and out.stdout.endswith("DejaVuSans.ttf") and Path(out.stdout).is_file():
            return Path(out.stdout)
    raise FileNotFoundError("the DejaVu Sans font is missing: apt-get install fonts-dejavu")


def _photo_background(w: int, h: int, rng: np.random.Generator) -> Image.Image:
    y, x = np.mgrid[0:h, 0:w].astype(float)
    ph = rng.uniform(0, 2 * np.pi, 3)
    base = np.stack([185 + 55 * np.sin(x / 95 + ph[0]) * np.cos(y / 160),
                     170 + 50 * np.cos(y / 70 + ph[1]),
                     150 + 60 * np.sin((x + y) / 130 + ph[2])], -1)
    base += rng.normal(0, 14, (h, w, 3))
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    return img.filter(ImageFilter.GaussianBlur(3))


def render(spec: Spec) -> Image.Image:
    """The image of `spec` (RGB)."""
    w, h = spec.size
    rng = np.random.default_rng(spec.seed)
    if spec.background == "photo":
        img = _photo_background(w, h, rng)
    elif spec.background == "plain":
        img = Image.new("RGB", (w, h), (255, 255, 255))
    else:
        raise ValueError(f"background {spec.background!r}: plain or photo")
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(str(font_path()), spec.font_size)
    x, y = spec.margin
    for line in spec.lines:
        draw.text((x, y), line, font=font, fill=spec.ink)
        y += int(spec.font_size * 1.55)
    if spec.noise:
        a = np.asarray(img).astype(float) + rng.normal(0, spec.noise, (h, w, 3))
        img = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    if spec.blur:
        img = img.filter(ImageFilter.GaussianBlur(spec.blur))
    return img


def encode(img: Image.Image, fmt: str = "JPEG", quality: int = 90) -> bytes:
    """The image as the bytes of a file (what a channel posts, what an export writes)."""
    buf = io.BytesIO()
    img.save(buf, format=fmt, **({"quality": quality} if fmt == "JPEG" else {}))
    return buf.getvalue()
