"""A tiny PNG bar chart writer (zlib only): the benchmark's picture without a plotting dependency."""

from __future__ import annotations

import struct
import zlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

Color = tuple[int, int, int]
#: 3x5 digits and a few letters, for bar values and labels.
_GLYPHS = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111", "3": "111001111001111",
    "4": "101101111001001", "5": "111100111001111", "6": "111100111101111", "7": "111001001001001",
    "8": "111101111101111", "9": "111101111001111", ".": "000000000000010", " ": "000000000000000",
    "k": "100101110101101", "x": "000101010101000", "@": "111101111100111", "/": "001001010100100",
    "E": "111100111100111", "F": "111100111100100", "u": "000101101101111", "s": "011100010001110",
}  # fmt: skip


def _text(pixels: list[bytearray], x: int, y: int, text: str, color: Color, scale: int = 2) -> None:
    for n, char in enumerate(text):
        glyph = _GLYPHS.get(char, _GLYPHS[" "])
        for i, bit in enumerate(glyph):
            if bit == "1":
                for dy in range(scale):
                    for dx in range(scale):
                        px, py = x + n * 4 * scale + (i % 3) * scale + dx, y + (i // 3) * scale + dy
                        if 0 <= py < len(pixels) and 0 <= px * 3 < len(pixels[0]):
                            pixels[py][px * 3 : px * 3 + 3] = bytes(color)


def bar_chart(
    path: Path, labels: Sequence[str], values: Sequence[float], colors: Sequence[Color], *, bound: float
) -> None:
    """
    Write a horizontal bar chart as a PNG: one bar per value, a red line at ``bound``.

    :param path: where to write the PNG.
    :param labels: a short label per bar (digits, ``k``, ``x``, ``@``, ``/``, ``E``, ``F``, ``u``, ``s``).
    :param values: the bar lengths.
    :param colors: a color per bar.
    :param bound: value marked by a vertical line (e.g. the target).
    """
    width, bar_h, gap, left = 640, 28, 14, 150
    height = gap + len(values) * (bar_h + gap)
    top = max([*values, bound]) * 1.15
    pixels = [bytearray(b"\xff" * (width * 3)) for _ in range(height)]
    scale = (width - left - 20) / top
    for n, (label, value, color) in enumerate(zip(labels, values, colors, strict=True)):
        y = gap + n * (bar_h + gap)
        for row in pixels[y : y + bar_h]:
            row[left * 3 : (left + int(value * scale)) * 3] = bytes(color) * int(value * scale)
        _text(pixels, 6, y + 8, label, (0, 0, 0))
        _text(pixels, left + int(value * scale) + 4, y + 8, f"{value:.1f}", (0, 0, 0))
    x = left + int(bound * scale)
    for row in pixels:
        row[x * 3 : x * 3 + 6] = bytes((220, 0, 0)) * 2
    raw = b"".join(b"\x00" + bytes(row) for row in pixels)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )
