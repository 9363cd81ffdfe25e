"""WCAG 2.x contrast: the relative luminance of a colour and the ratio of two, for the
tests that hold the stylesheets' colours to 4.5:1 (text), 3:1 (large text, focus rings
and other parts a user must see) — https://www.w3.org/TR/WCAG22/#dfn-contrast-ratio."""

from __future__ import annotations

import re

TEXT = 4.5
LARGE_TEXT = 3.0
NON_TEXT = 3.0

_HEX = re.compile(r"#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_RGB = re.compile(r"rgba?\(\s*(\d+)[,\s]+(\d+)[,\s]+(\d+)(?:\s*[,/]\s*([\d.]+%?))?\s*\)")

RGB = tuple[int, int, int]


def parse(colour: str) -> RGB:
    """`#rgb`, `#rrggbb`, or `rgb()`/`rgba()` as a browser's computed style gives it
    (an opaque colour: a translucent one is refused, since its contrast depends on what
    lies beneath)."""
    text = colour.strip()
    if hexed := _HEX.fullmatch(text):
        digits = hexed.group(1)
        if len(digits) == 3:
            digits = "".join(d * 2 for d in digits)
        return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))
    if rgb := _RGB.fullmatch(text):
        alpha = rgb.group(4)
        if alpha is not None and alpha not in ("1", "100%"):
            raise ValueError(f"{colour!r} is translucent: blend it over its background first")
        return (int(rgb.group(1)), int(rgb.group(2)), int(rgb.group(3)))
    raise ValueError(f"not a colour: {colour!r}")


def luminance(colour: str | RGB) -> float:
    """The relative luminance, 0 (black) to 1 (white)."""
    rgb = parse(colour) if isinstance(colour, str) else colour

    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def ratio(one: str | RGB, other: str | RGB) -> float:
    """The contrast ratio of two colours, 1 to 21, whichever is lighter."""
    light, dark = sorted((luminance(one), luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)
