"""Bodies above a page's limit are refused before they are read, with a clear answer."""

import io
import json

import pytest
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import resolve, reverse

from aftersales.models import AfterSale, EvidenceImage
from settlement.models import Claim, Reconciliation
from settlement.statements import reconciliation
from shop.evidence import EVIDENCE_UPLOAD, MAX_EVIDENCE_BYTES
from shop.models import PlatformEvent
from shop.request_limits import API_BODY_MAX_BYTES, UploadLimit
from tests import test_tenancy
from tests.test_tenancy import _after_sale_a, _claimable_service_order_a, _statement_a

world = test_tenancy.world  # the tenancy walk's fixture: two shops, two outlets

MB = 1024 * 1024
PNG_HEAD = b"\x89PNG\r\n\x1a\n"


class Tripwire(io.BytesIO):
    """wsgi.input that counts what the server reads of it."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size=-1):
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk

    def readline(self, size=-1):
        line = super().readline(size)
        self.bytes_read += len(line)
        return line


def post_raw(client, url, body: bytes, content_type: str, **headers):
    """POST `body` through a Tripwire: (response, bytes the server read)."""
    stream = Tripwire(body)
    response = client.generic("POST", url, body, content_type=content_type, headers=headers, **{"wsgi.input": stream})
    return response, stream.bytes_read


def multipart(fields: dict) -> bytes:
    return encode_multipart(BOUNDARY, fields)


class File(io.BytesIO):
    def __init__(self, name: str, data: bytes):
        super().__init__(data)
        self.name = name


# --- item 6: the events and callback APIs ----------------------------------------------------------
@pytest.mark.parametrize("url", ["/api/platform/events", "/api/carrier/callback"])
def test_a_10_mb_body_gets_the_contracts_json_error_unread(client, db, url):
    body = b'{"id": "evt-1", "padding": "' + b"x" * (10 * MB) + b'"}'

    response, read = post_raw(client, url, body, "application/json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "error": "What you sent is larger than 1.0\xa0MB, the most this page takes. Nothing was saved.",
        "field": "",
    }
    assert read == 0
    assert PlatformEvent.objects.count() == 0


@pytest.mark.parametrize("url", ["/api/platform/events", "/api/carrier/callback"])
def test_a_body_of_unannounced_length_is_read_no_further_than_the_limit(rf, db, url):
    """Chunked bodies (ASGI passes them without Content-Length): the view reads at most the limit + 1."""
    stream = Tripwire(b"x" * (3 * MB))
    request = rf.generic("POST", url, b"", content_type="application/json", **{"wsgi.input": stream})
    request.META.pop("CONTENT_LENGTH", None)
    request._stream = stream  # as an ASGI request: the whole stream, no length to stop at

    response = resolve(url).func(request)

    assert response.status_code == 400
    assert json.loads(response.content)["field"] == ""
    assert stream.bytes_read == API_BODY_MAX_BYTES + 1


def test_an_event_body_within_the_limit_is_read_and_answered_as_before(client, db):
    response, read = post_raw(client, "/api/platform/events", b"{}", "application/json")

    assert response.status_code == 401  # unsigned: the signature check saw the body
    assert read == 2


# --- item 12: uploads and other forms --------------------------------------------------------------
def test_evidence_above_the_form_limit_is_refused_unread_with_a_page_saying_so(client, world):
    after_sale = _after_sale_a(world)
    client.force_login(world.merchant_a)
    client.cookies["django_language"] = "en"
    files = [File(f"{n}.png", PNG_HEAD + b"\x00" * (MAX_EVIDENCE_BYTES - 100)) for n in range(6)]
    body = multipart({"version": after_sale.version, "reason": "not_as_claimed", "evidence": files})
    assert len(body) > EVIDENCE_UPLOAD.body_bytes

    url = reverse("aftersales:reject", kwargs={"after_sale_no": after_sale.after_sale_no})
    response, read = post_raw(client, url, body, MULTIPART_CONTENT)

    assert response.status_code == 413
    assert "text/html" in response["Content-Type"]
    assert (
        "What you sent is larger than this form takes: at most 5 files of 5.0\xa0MB each. "
        "Nothing was saved: go back and send smaller files."
    ) in response.content.decode()
    assert read == 0
    assert (AfterSale.objects.get(pk=after_sale.pk).status, EvidenceImage.objects.count()) == (after_sale.status, 0)


def test_one_image_above_5_mb_stops_the_upload_as_it_streams_in(client, world):
    after_sale = _after_sale_a(world)
    client.force_login(world.merchant_a)
    client.cookies["django_language"] = "en"
    big = File("big.png", PNG_HEAD + b"\x00" * (MAX_EVIDENCE_BYTES + MB))
    body = multipart({"version": after_sale.version, "reason": "not_as_claimed", "evidence": [big]})
    assert len(body) < EVIDENCE_UPLOAD.body_bytes  # the Content-Length alone does not refuse it

    url = reverse("aftersales:reject", kwargs={"after_sale_no": after_sale.after_sale_no})
    response, read = post_raw(client, url, body, MULTIPART_CONTENT)

    assert response.status_code == 413
    assert "big.png is larger than 5.0\xa0MB. Nothing was saved: go back and send a smaller file." in (
        response.content.decode()
    )
    assert read < MAX_EVIDENCE_BYTES + 256 * 1024  # stopped within a few chunks of the limit
    assert (AfterSale.objects.get(pk=after_sale.pk).status, EvidenceImage.objects.count()) == (after_sale.status, 0)


def test_a_claim_with_evidence_above_the_limit_is_refused_unread(client, world):
    service_order = _claimable_service_order_a(world)
    client.force_login(world.merchant_a)
    body = multipart(
        {
            "reason": "lost",
            "amount": "10.00",
            "description": "lost",
            "evidence": [File(f"{n}.png", PNG_HEAD + b"\x00" * MAX_EVIDENCE_BYTES) for n in range(6)],
        }
    )

    url = reverse("settlement:claim-new", kwargs={"service_order_pk": service_order.pk})
    response, read = post_raw(client, url, body, MULTIPART_CONTENT)

    assert (response.status_code, read, Claim.objects.count()) == (413, 0, 0)


def test_a_bill_above_2_mb_is_refused_unread(client, world):
    statement = _statement_a(world)
    client.force_login(world.merchant_a)
    client.cookies["django_language"] = "en"
    bill = File("bill.csv", b"tracking_no,fee\n" + b"YT000000000001,2.50\n" * 200_000)
    body = multipart({"bill": bill})
    assert len(body) > reconciliation.MAX_BYTES

    url = reverse("settlement:statement-reconcile", kwargs={"pk": statement.pk})
    page = f"http://testserver{reverse('settlement:statement-detail', kwargs={'pk': statement.pk})}"
    response, read = post_raw(client, url, body, MULTIPART_CONTENT, Referer=page)

    assert (response.status_code, read, Reconciliation.objects.count()) == (413, 0, 0)
    assert "one file of at most 2.0\xa0MB" in response.content.decode()
    assert f'<a class="btn" href="{page}">Back to the form</a>' in response.content.decode()


def test_the_too_large_page_links_back_only_to_a_page_of_this_site(client, world):
    statement = _statement_a(world)
    client.force_login(world.merchant_a)
    body = multipart({"bill": File("bill.csv", b"x" * (3 * MB))})

    url = reverse("settlement:statement-reconcile", kwargs={"pk": statement.pk})
    response, _read = post_raw(client, url, body, MULTIPART_CONTENT, Referer="https://evil.example/phish")

    assert response.status_code == 413
    assert "evil.example" not in response.content.decode()


def test_a_form_without_files_takes_at_most_the_default_body(client, world, settings):
    client.force_login(world.merchant_a)
    body = b"remark=" + b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)

    response, read = post_raw(client, reverse("aftersales:bulk-flag"), body, "application/x-www-form-urlencoded")

    assert (response.status_code, read) == (413, 0)


def test_an_upload_within_the_limits_goes_through_to_the_form():
    limit = UploadLimit(file_bytes=MAX_EVIDENCE_BYTES, files=5)

    assert limit.body_bytes == 5 * MAX_EVIDENCE_BYTES + 64 * 1024
