"""On PostgreSQL the database writes the workbench CSV (COPY … TO STDOUT): the same file, byte for byte,
as the Python path writes from the same rows (aftersales.exports.COLUMNS drives both)."""

import csv
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import translation

from aftersales import exports
from aftersales.models import AfterSale
from shop import streaming
from shop.models import Buyer, Parcel
from tests.aftersales.factories import make_after_sale_on_new_order
from tests.shop.factories import at

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's"),
]

# Hostile text: markup, quotes of both kinds, CSV's own characters, line breaks, emoji, every formula
# starter (with and without a number after it), digits that are not ASCII, blank-looking values.
HOSTILE = [
    "<script>alert('x')</script> & \"quoted\"",
    "a, b; c",
    'say "hi"',
    "两行\n备注\r\n三行",
    "emoji 😀👍🏽 and 中文",
    '=HYPERLINK("http://x")',
    "+86 138",
    "-1+1",
    "-3.00",
    "@SUM(A1)",
    "\tTab first",
    "\rCR first",
    "－１２",
    " ",
    "'already quoted",
    "\\.",
    "",
]


@pytest.fixture
def hostile(shop, yto_outlet):
    for i, text in enumerate(HOSTILE):
        make_after_sale_on_new_order(
            shop,
            no=f"AS-H{i:02d}{text[:3]}" if text.strip() and "\n" not in text else f"AS-H{i:02d}",
            order_no=f"O-H{i:02d}",
            remark=text,
            title=f"{text}杯子" if text else "杯子",
            amount=Decimal("1234567.89") if i == 0 else Decimal("0.01") * (i + 1),
            refunded=Decimal("0.00"),
            flag=[AfterSale.Flag.RED, AfterSale.Flag.BLUE, ""][i % 3],
            status=[AfterSale.Status.PENDING_MERCHANT, AfterSale.Status.REFUNDED][i % 2],
            parcel_status=Parcel.Status.SIGNED if i % 2 else None,
            outlet=yto_outlet,
            tracking_no=f"YT-{text[:8]}" if text else "YT-EMPTY",
            deadline=None if i % 2 else at(f"2026-11-{10 + i} 0{i % 10}:0{i % 6}"),  # closed: none
            applied_at=at(f"2026-11-0{1 + i % 9} 23:59"),
            multi_refund=bool(i % 2),
            buyer=Buyer.objects.create(external_id=f"b-{text[:20]}-{i}", nickname=text or "无名"),
        )


def python_file(queryset) -> bytes:
    return b"".join(piece.encode() for piece in streaming.csv_pieces(exports.header(), exports.csv_rows(queryset)))


def copy_file(queryset) -> bytes:
    pieces = streaming.copy_csv_pieces(exports.header(), *exports._copy_select(queryset))
    return b"".join(piece.encode() if isinstance(piece, str) else piece for piece in pieces)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_copy_file_equals_the_python_file_byte_for_byte(shop, hostile, language):
    queryset = AfterSale.objects.filter(shop=shop)
    with translation.override(language):
        python, copied = python_file(queryset), copy_file(queryset)
    assert copied == python
    assert copied.startswith("\ufeff".encode())
    parsed = list(csv.reader(io.StringIO(copied.decode()[1:], newline="")))
    assert len(parsed) == len(HOSTILE) + 1
    remarks = {row[11] for row in parsed[1:]}
    # Neutralised, as safe_cell does: a formula gets a quote; a plain number and other text do not.
    assert {'\'=HYPERLINK("http://x")', "'+86 138", "'-1+1", "'@SUM(A1)", "'\tTab first", "'\rCR first"} <= remarks
    assert {"-3.00", "－１２", "'already quoted", "两行\n备注\r\n三行", "emoji 😀👍🏽 and 中文", ""} <= remarks


def test_the_view_writes_the_copy_file_on_postgresql(client, merchant, shop, hostile, monkeypatch):
    client.force_login(merchant)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    used = []
    original = streaming.copy_csv_pieces
    monkeypatch.setattr(streaming, "copy_csv_pieces", lambda *a, **k: used.append(1) or original(*a, **k))
    body = b"".join(client.get(reverse("aftersales:export-csv")).streaming_content)
    with translation.override("en"):
        assert body == python_file(AfterSale.objects.filter(shop=shop))
    assert used == [1]


def test_a_download_abandoned_half_way_leaves_the_connection_usable(shop, hostile, monkeypatch):
    monkeypatch.setattr(streaming, "ROWS_PER_PIECE", 2)
    pieces = streaming.copy_csv_pieces(exports.header(), *exports._copy_select(AfterSale.objects.filter(shop=shop)))
    next(pieces), next(pieces)  # the header and the first two rows, then the client goes away
    pieces.close()
    assert AfterSale.objects.filter(shop=shop).count() == len(HOSTILE)
