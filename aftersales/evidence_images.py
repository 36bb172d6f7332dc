"""A parcel's tracking timeline drawn as a PNG: the evidence a bulk rejection with reason 已签收 attaches.

Seed 002's merchant screenshots the tracking page of each signed parcel before rejecting; the back
office draws the same facts itself, from the tracking events it holds. Pure: the caller passes the
events, the texts come out in the active language, the font is the one the project ships
(aftersales/fonts), so a fresh machine draws Chinese without a system font.
"""

import io
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, ImageDraw, ImageFont

FONT_PATH = Path(__file__).resolve().parent / "fonts" / "NotoSansSC-Regular-GB2312.otf"
WIDTH = 960
MARGIN = 40
# The newest events are drawn; older ones are summed up in one line, so the image stays readable.
MAX_ENTRIES = 30
NOTE_MAX_LINES = 3

INK, MUTED, ACCENT, RULE, PAPER = (31, 41, 55), (107, 114, 128), (220, 38, 38), (209, 213, 219), (255, 255, 255)
TIME_COLUMN = 190  # x of the timeline's dots, after the time column
TEXT_COLUMN = TIME_COLUMN + 28


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    status: str  # the status as people read it (a label, not a code)
    note: str = ""


@cache
def font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_PATH), size)


def wrap(text: str, typeface: ImageFont.FreeTypeFont, width: int, max_lines: int) -> list[str]:
    """`text` cut into lines of at most `width` pixels, character by character (Chinese has no spaces)."""
    lines, line = [], ""
    for char in " ".join(text.split()):
        if typeface.getlength(line + char) > width:
            lines.append(line)
            line = char.lstrip()
        else:
            line += char
    if line:
        lines.append(line)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][:-1] + "…"
    return lines


def _local(moment: datetime) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}"


def timeline_png(
    *, courier: str, tracking_no: str, after_sale_no: str, entries: list[TimelineEntry], generated_at: datetime
) -> bytes:
    """The PNG of a parcel's timeline, newest event first, with the parcel and after-sale it belongs to."""
    entries = sorted(entries, key=lambda entry: entry.at, reverse=True)
    shown, hidden = entries[:MAX_ENTRIES], len(entries) - min(len(entries), MAX_ENTRIES)
    title, body, small = font(30), font(20), font(17)
    text_width = WIDTH - TEXT_COLUMN - MARGIN

    header = [
        (title, INK, _("Parcel tracking")),
        (body, INK, _("Courier: %(courier)s    Tracking number: %(tracking_no)s") % locals()),
        (body, INK, _("After-sale: %(after_sale_no)s") % locals()),
    ]
    blocks = [(entry, wrap(entry.note, small, text_width, NOTE_MAX_LINES)) for entry in shown]
    footer = _("Drawn by the after-sales back office from the courier's tracking events, %(at)s (Beijing time).") % {
        "at": _local(generated_at)
    }
    if hidden:
        footer = _("%(count)d earlier events not shown. ") % {"count": hidden} + footer

    height = MARGIN + sum(50 if typeface is title else 32 for typeface, _c, _t in header) + 24
    height += sum(34 + 24 * len(lines) + 18 for _entry, lines in blocks) or 40
    height += 24 * len(wrap(footer, small, WIDTH - 2 * MARGIN, 4)) + MARGIN
    image = Image.new("RGB", (WIDTH, height), PAPER)
    draw = ImageDraw.Draw(image)

    y = MARGIN
    for typeface, colour, text in header:
        draw.text((MARGIN, y), text, font=typeface, fill=colour)
        y += 50 if typeface is title else 32
    y += 8
    draw.line((MARGIN, y, WIDTH - MARGIN, y), fill=RULE, width=1)
    y += 16

    if not blocks:
        draw.text((MARGIN, y), _("No tracking events."), font=body, fill=MUTED)
        y += 40
    tops = []  # the top of each entry, laid out first so that the rail goes under the dots
    for _entry, lines in blocks:
        tops.append(y)
        y += 34 + 24 * len(lines) + 18
    if len(tops) > 1:
        draw.line((TIME_COLUMN, tops[0] + 13, TIME_COLUMN, tops[-1] + 13), fill=RULE, width=2)
    for index, ((entry, lines), top) in enumerate(zip(blocks, tops, strict=True)):
        colour = ACCENT if index == 0 else INK
        draw.text((MARGIN, top + 2), _local(entry.at), font=small, fill=MUTED)
        draw.ellipse((TIME_COLUMN - 7, top + 6, TIME_COLUMN + 7, top + 20), fill=colour)
        draw.text((TEXT_COLUMN, top), entry.status, font=body, fill=colour)
        for number, line in enumerate(lines):
            draw.text((TEXT_COLUMN, top + 34 + 24 * number), line, font=small, fill=MUTED)
    for line in wrap(footer, small, WIDTH - 2 * MARGIN, 4):
        draw.text((MARGIN, y), line, font=small, fill=MUTED)
        y += 24

    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
