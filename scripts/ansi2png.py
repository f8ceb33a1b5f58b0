#!/usr/bin/env python3
"""Render a terminal capture with ANSI colours (`tmux capture-pane -e -p`) to a PNG.

Usage: ansi2png.py INPUT.ansi OUTPUT.png [--cols N] [--rows N]
Needs Pillow and a monospace TTF (DejaVu Sans Mono by default, from Debian's
fonts-dejavu-core; override with $FLEETDECK_SCREENSHOT_FONT).
"""
import os
import re
import sys

from PIL import Image, ImageDraw, ImageFont

FONT = os.environ.get("FLEETDECK_SCREENSHOT_FONT", "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf")
BOLD_FONT = FONT.replace("Mono.ttf", "Mono-Bold.ttf")
SIZE = 16
DEFAULT_FG = (220, 220, 220)
DEFAULT_BG = (24, 24, 28)
BASE16 = [
    (0, 0, 0), (205, 49, 49), (13, 188, 121), (229, 229, 16),
    (36, 114, 200), (188, 63, 188), (17, 168, 205), (229, 229, 229),
    (102, 102, 102), (241, 76, 76), (35, 209, 139), (245, 245, 67),
    (59, 142, 234), (214, 112, 214), (41, 184, 219), (255, 255, 255),
]


def xterm256(n):
    if n < 16:
        return BASE16[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    v = 8 + (n - 232) * 10
    return (v, v, v)


def parse(text):
    """Yields rows of (char, fg, bg, bold, dim, reverse, underline) cells."""
    rows = []
    state = dict(fg=None, bg=None, bold=False, dim=False, rev=False, ul=False)
    for line in text.split("\n"):
        row = []
        i = 0
        while i < len(line):
            m = re.match(r"\x1b\[([0-9;:]*)m", line[i:])
            if m:
                apply_sgr(state, m.group(1))
                i += m.end()
                continue
            if line[i] == "\x1b":  # another escape: skip it
                m = re.match(r"\x1b\[[0-9;?]*[A-Za-z]", line[i:])
                i += m.end() if m else 1
                continue
            row.append((line[i], state["fg"], state["bg"], state["bold"], state["dim"], state["rev"], state["ul"]))
            i += 1
        rows.append(row)
    return rows


def apply_sgr(state, params):
    codes = [int(p) if p else 0 for p in re.split("[;:]", params)] if params else [0]
    i = 0
    while i < len(codes):
        c = codes[i]
        if c == 0:
            state.update(fg=None, bg=None, bold=False, dim=False, rev=False, ul=False)
        elif c == 1:
            state["bold"] = True
        elif c == 2:
            state["dim"] = True
        elif c == 4:
            state["ul"] = True
        elif c == 7:
            state["rev"] = True
        elif c == 22:
            state["bold"] = state["dim"] = False
        elif c == 24:
            state["ul"] = False
        elif c == 27:
            state["rev"] = False
        elif 30 <= c <= 37:
            state["fg"] = BASE16[c - 30]
        elif 90 <= c <= 97:
            state["fg"] = BASE16[c - 90 + 8]
        elif 40 <= c <= 47:
            state["bg"] = BASE16[c - 40]
        elif 100 <= c <= 107:
            state["bg"] = BASE16[c - 100 + 8]
        elif c == 39:
            state["fg"] = None
        elif c == 49:
            state["bg"] = None
        elif c in (38, 48) and i + 1 < len(codes):
            key = "fg" if c == 38 else "bg"
            if codes[i + 1] == 5 and i + 2 < len(codes):
                state[key] = xterm256(codes[i + 2])
                i += 2
            elif codes[i + 1] == 2 and i + 4 < len(codes):
                state[key] = tuple(codes[i + 2:i + 5])
                i += 4
        i += 1


# Braille dot bits: (column, row) of each bit of a U+2800 pattern.
BRAILLE_DOTS = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (0, 3), (1, 3)]


def draw_braille(draw, bits, px, py, cw, ch, colour):
    """Draws a braille pattern as dots: monospace fonts rarely carry these glyphs, and
    charts are made of them."""
    r = max(1, cw // 6)
    for bit, (col, row) in enumerate(BRAILLE_DOTS):
        if bits & (1 << bit):
            cx = px + cw * (1 + 2 * col) // 4
            cy = py + ch * (1 + 2 * row) // 8
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)


def main():
    args = sys.argv[1:]
    src, dst = args[0], args[1]
    cols = int(args[args.index("--cols") + 1]) if "--cols" in args else None
    nrows = int(args[args.index("--rows") + 1]) if "--rows" in args else None
    with open(src, encoding="utf-8", errors="replace") as f:
        rows = parse(f.read().rstrip("\n"))
    cols = cols or max((len(r) for r in rows), default=1)
    nrows = nrows or len(rows)
    font = ImageFont.truetype(FONT, SIZE)
    bold = ImageFont.truetype(BOLD_FONT, SIZE) if os.path.exists(BOLD_FONT) else font
    cw = round(font.getlength("M"))
    ch = round(SIZE * 1.25)
    img = Image.new("RGB", (cols * cw + 16, nrows * ch + 16), DEFAULT_BG)
    draw = ImageDraw.Draw(img)
    for y, row in enumerate(rows[:nrows]):
        for x, (char, fg, bg, is_bold, dim, rev, ul) in enumerate(row[:cols]):
            fg = fg or DEFAULT_FG
            bg = bg or DEFAULT_BG
            if rev:
                fg, bg = bg, fg
            if dim:
                fg = tuple(int(c * 0.6 + b * 0.4) for c, b in zip(fg, bg))
            px, py = 8 + x * cw, 8 + y * ch
            draw.rectangle([px, py, px + cw - 1, py + ch - 1], fill=bg)
            if 0x2800 <= ord(char) <= 0x28FF:
                draw_braille(draw, ord(char) - 0x2800, px, py, cw, ch, fg)
            elif char.strip():
                draw.text((px, py + 1), char, font=bold if is_bold else font, fill=fg)
            if ul:
                draw.line([px, py + ch - 2, px + cw - 1, py + ch - 2], fill=fg)
    img.save(dst)


if __name__ == "__main__":
    main()
