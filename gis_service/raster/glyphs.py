"""Signed-distance-field glyph ranges (the PBF MapLibre fetches for labels), rendered with FreeType.

Vietnamese labels need the ranges 0-255, 256-511 (đ, ơ, ư, ă) and 7680-7935 (ạ, ế, ộ, ự ...), plus
768-1023 for text stored decomposed and 8192-8447 for the en dash in project names. They are made here,
offline, from DejaVu Sans (Debian ``fonts-dejavu-core``; any TTF via ``GIS_TILES__FONT_FILE``), never
fetched from a font CDN: ``gis-service tiles glyphs`` writes them at install time, and a missing range
is rendered on first request and kept on disk. The encoding follows fontnik (size 24, buffer 3,
radius 8, cutoff 0.25); the distance field is the windowed exact transform TinySDF computes.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from gis_service.errors import NotFound
from gis_service.settings import Settings

SIZE, BUFFER, RADIUS, CUTOFF = 24, 3, 8, 0.25
REGULAR, BOLD = "DejaVu Sans Book", "DejaVu Sans Bold"
FONT_FILES = {REGULAR: "DejaVuSans.ttf", BOLD: "DejaVuSans-Bold.ttf"}
FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
VIETNAMESE_RANGES = (0, 256, 768, 7680, 8192)
WINDOW = RADIUS + 1
_OFFSETS = np.add.outer(np.arange(-WINDOW, WINDOW + 1) ** 2, np.arange(-WINDOW, WINDOW + 1) ** 2).astype(np.float32)


class GlyphsNotFound(NotFound):
    title = "Glyphs not found"


# ---- protobuf, by hand: three small messages are not worth a generated module -------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, value: int | bytes, *, signed: bool = False) -> bytes:
    if isinstance(value, bytes):
        return _varint(number << 3 | 2) + _varint(len(value)) + value
    if signed:
        value = (value << 1) ^ (value >> 31)  # zigzag (sint32)
    return _varint(number << 3) + _varint(value)


# ---- rendering -----------------------------------------------------------------------------------------


def font_path(settings: Settings, fontstack: str) -> Path:
    """The TTF for the first font of the stack we have (MapLibre asks for ``"A,B"`` stacks)."""
    if settings.tiles.font_file is not None:
        return settings.tiles.font_file
    names = [n.strip() for n in fontstack.split(",")]
    name = next((n for n in names if n in FONT_FILES), BOLD if any("Bold" in n for n in names) else REGULAR)
    for directory in FONT_DIRS:
        if (directory / FONT_FILES[name]).exists():
            return directory / FONT_FILES[name]
    raise GlyphsNotFound(f"font {FONT_FILES[name]} is not installed (Debian package fonts-dejavu-core)")


def distance_field(coverage: np.ndarray) -> np.ndarray:
    """8-bit SDF of an anti-aliased coverage bitmap (0..1), already padded by ``BUFFER``."""
    inf = np.float32(1e20)
    outer = np.where(coverage >= 1, 0, np.where(coverage <= 0, inf, np.maximum(0, 0.5 - coverage) ** 2))
    inner = np.where(coverage >= 1, inf, np.where(coverage <= 0, 0, np.maximum(0, coverage - 0.5) ** 2))
    distance = np.sqrt(_edt(outer.astype(np.float32))) - np.sqrt(_edt(inner.astype(np.float32)))
    return np.clip(np.round(255 - 255 * (distance / RADIUS + CUTOFF)), 0, 255).astype(np.uint8)


def _edt(grid: np.ndarray) -> np.ndarray:
    """Squared distance transform within ``WINDOW`` pixels: min over q of |p - q|^2 + grid(q)."""
    padded = np.pad(grid, WINDOW, constant_values=np.float32(1e20))
    windows = np.lib.stride_tricks.sliding_window_view(padded, _OFFSETS.shape)
    return np.minimum((windows + _OFFSETS).min(axis=(2, 3)), RADIUS * RADIUS * 4)


def render_range(path: Path, fontstack: str, start: int) -> bytes:
    """One ``glyphs`` message: the SDF glyphs the font has in ``start .. start + 255``."""
    import freetype

    face = freetype.Face(str(path))
    face.set_char_size(SIZE * 64)
    glyphs = []
    for code in range(start, start + 256):
        index = face.get_char_index(code)
        if not index:
            continue
        face.load_glyph(index, freetype.FT_LOAD_RENDER | freetype.FT_LOAD_NO_HINTING)
        slot = face.glyph
        width, height = slot.bitmap.width, slot.bitmap.rows
        body = _field(1, code)
        if width and height:
            pitch = slot.bitmap.pitch
            raw = np.array(slot.bitmap.buffer, dtype=np.uint8).reshape(height, pitch)[:, :width]
            coverage = np.pad(raw.astype(np.float32) / 255.0, BUFFER)
            body += _field(2, distance_field(coverage).tobytes())
        body += _field(3, width) + _field(4, height)
        body += _field(5, slot.bitmap_left, signed=True) + _field(6, slot.bitmap_top, signed=True)
        body += _field(7, round(slot.advance.x / 64))
        glyphs.append(_field(3, body))
    stack = _field(1, fontstack.encode()) + _field(2, f"{start}-{start + 255}".encode()) + b"".join(glyphs)
    return _field(1, stack)


def parse_range(text: str) -> int:
    start, _, end = text.partition("-")
    ascii_digits = start.isascii() and start.isdigit() and end.isascii() and end.isdigit()  # not "²" nor "٠"
    if not ascii_digits or int(start) % 256 or int(end) != int(start) + 255:
        raise GlyphsNotFound(f"{text!r} is not a glyph range like 0-255")
    if int(end) > 0xFFFF:
        raise GlyphsNotFound(f"{text!r} is beyond the Basic Multilingual Plane")
    return int(start)


def glyph_range(settings: Settings, fontstack: str, range_text: str) -> bytes:
    """The PBF of one range: from disk, or rendered now and written atomically for the next time."""
    start = parse_range(range_text)
    path = font_path(settings, fontstack)
    target = settings.tiles.glyphs_dir / path.stem / f"{start}-{start + 255}.pbf"
    if target.exists():
        return target.read_bytes()
    data = render_range(path, fontstack.split(",")[0].strip(), start)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("wb", dir=target.parent, delete=False) as handle:
        handle.write(data)
    os.replace(handle.name, target)
    return data


def build(settings: Settings, ranges: tuple[int, ...] = VIETNAMESE_RANGES) -> list[Path]:
    """Render the Vietnamese ranges of both font stacks (``gis-service tiles glyphs``)."""
    written = []
    for fontstack in FONT_FILES:
        for start in ranges:
            glyph_range(settings, fontstack, f"{start}-{start + 255}")
            written.append(
                settings.tiles.glyphs_dir / font_path(settings, fontstack).stem / f"{start}-{start + 255}.pbf"
            )
    return written
