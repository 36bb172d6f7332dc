"""Seed 002, steps 2-3 in bulk: the signed-for refund-only after-sales rejected with reason 已签收, each
with an image of its own parcel's timeline, the buyer invited to return instead; per row, all or nothing."""

import io
from datetime import timedelta

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone, translation
from PIL import Image, ImageChops, ImageDraw

from aftersales import evidence_images, rules
from aftersales.models import AfterSale, BulkJob, BulkJobRow, BuyerNotification, EvidenceImage
from aftersales.services import bulk
from shop.errors import DomainError, NotFound
from shop.models import Order, Parcel, TrackingEvent
from shop.permissions import PermissionRefused, PermissionSet
from tests.aftersales.factories import make_after_sale, make_after_sale_on_new_order, snapshot
from tests.shop.factories import make_member, make_order, make_parcel

S, P, T = AfterSale.Status, Parcel.Status, AfterSale.Type


def signed(shop, **kwargs) -> AfterSale:
    return make_after_sale_on_new_order(shop, parcel_status=P.SIGNED, **kwargs)


def versions(*after_sales) -> dict[int, int]:
    return {a.pk: a.version for a in after_sales}


def start_and_run(shop, user, after_sales, *, send_card=True, note="") -> BulkJob:
    chosen = versions(*after_sales)
    job = bulk.start_reject_signed(shop=shop, user=user, versions=chosen, send_card=send_card, note=note)
    bulk.run_bulk_job(job.pk)
    job.refresh_from_db()
    return job


def outcomes(job) -> dict[str, tuple[bool, str]]:
    return {row.after_sale.after_sale_no: (row.ok, row.reason) for row in job.rows.select_related("after_sale")}


# --- the rule --------------------------------------------------------------------------------------
def facts(status=S.PENDING_MERCHANT, type=T.REFUND_ONLY, parcel=P.SIGNED):
    return rules.ActionFacts(status=status, type=type, parcel_status=parcel, line_refundable=10, amount=10)


@pytest.mark.parametrize(
    ("case", "blocker"),
    [
        (facts(), None),
        (facts(status=S.REFUND_AFTER_REFUSAL), None),  # the buyer signed instead of refusing
        (facts(parcel=P.RETURNED), "the parcel is not signed for (now: returned)"),
        (facts(parcel=P.IN_TRANSIT), "the parcel is not signed for (now: in transit)"),
        (facts(parcel=P.OUT_FOR_DELIVERY), "the parcel is not signed for (now: out for delivery)"),
        (facts(parcel=None), "the goods were not shipped"),
        (facts(type=T.RETURN_REFUND), "not a refund-only request"),
        (facts(status=S.REFUNDED), "the after-sale is closed"),
        (facts(status=S.REJECTED), "the after-sale is closed"),
        (facts(status=S.ARBITRATION), "the platform is deciding this after-sale"),
        (facts(status=S.AWAITING_BUYER_RETURN, type=T.REFUND_ONLY), "the buyer is sending the goods back"),
    ],
)
def test_signed_reject_blocker_at_each_boundary(case, blocker):
    assert rules.signed_reject_blocker(case) == blocker


# --- the image -------------------------------------------------------------------------------------
def drawn(text: str) -> Image.Image:
    image = Image.new("L", (60, 60), 255)
    ImageDraw.Draw(image).text((5, 5), text, font=evidence_images.font(40), fill=0)
    return image


def test_the_shipped_font_draws_chinese_not_boxes():
    missing = drawn("\ue000")  # a private-use character: surely not in the font, drawn as its box
    for char in "已签收杭州转运中心驳回":
        assert ImageChops.difference(drawn(char), missing).getbbox() is not None, char
    assert ImageChops.difference(drawn("签"), drawn("收")).getbbox() is not None


def test_timeline_image_is_a_png_growing_with_its_events():
    moment = timezone.now()
    entries = [
        evidence_images.TimelineEntry(moment - timedelta(hours=h), label, "【杭州市】快件已到达转运中心 " * 8)
        for h, label in [(0, "已签收"), (5, "派送中"), (30, "运输中")]
    ]

    def image(count):
        png = evidence_images.timeline_png(
            courier="中通快递", tracking_no="ZT1", after_sale_no="AS-1", entries=entries[:count], generated_at=moment
        )
        return Image.open(io.BytesIO(png))

    one, three, none = image(1), image(3), image(0)
    assert (one.format, one.width, three.width) == ("PNG", evidence_images.WIDTH, evidence_images.WIDTH)
    assert none.height < one.height < three.height


def test_wrap_cuts_long_chinese_into_bounded_lines():
    lines = evidence_images.wrap("快件已签收" * 100, evidence_images.font(17), 300, 3)
    assert len(lines) == 3 and lines[-1].endswith("…")
    assert all(evidence_images.font(17).getlength(line) <= 300 for line in lines[:-1])


# --- the service, row by row ---------------------------------------------------------------------
def test_signed_ones_are_rejected_with_their_timeline_and_the_card(db, shop, merchant):
    first, second = signed(shop, no="AS-S1"), signed(shop, no="AS-S2")

    job = start_and_run(shop, merchant, [first, second], note="如需退货请申请退货退款")

    assert (job.status, outcomes(job)) == ("done", {"AS-S1": (True, ""), "AS-S2": (True, "")})
    for after_sale in (first, second):
        after_sale.refresh_from_db()
        assert (after_sale.status, after_sale.reject_reason) == (S.REJECTED, "goods_signed")
        assert after_sale.reject_note.startswith("Tracking shows the parcel signed for on ")
        assert after_sale.reject_note.endswith("如需退货请申请退货退款")
        evidence = after_sale.evidence.get()
        assert (evidence.content_type, evidence.uploaded_by) == ("image/png", merchant)
        with evidence.image.open("rb") as handle:
            assert Image.open(handle).format == "PNG"
        kinds = sorted(BuyerNotification.objects.filter(line=after_sale.line).values_list("kind", flat=True))
        assert kinds == ["card", "rejected"]


def test_without_the_card_only_the_rejection_is_sent(db, shop, merchant):
    after_sale = signed(shop)

    start_and_run(shop, merchant, [after_sale], send_card=False)

    assert list(BuyerNotification.objects.filter(line=after_sale.line).values_list("kind", flat=True)) == ["rejected"]


def test_rows_that_cannot_be_rejected_fail_with_the_reason_and_stay_untouched(db, shop, merchant):
    good = signed(shop, no="AS-OK")
    returned = make_after_sale_on_new_order(shop, no="AS-BACK", parcel_status=P.RETURNED)
    moving = make_after_sale_on_new_order(shop, no="AS-MOVING", parcel_status=P.IN_TRANSIT)
    return_refund = signed(shop, no="AS-RR", type=T.RETURN_REFUND)
    stale = signed(shop, no="AS-STALE")
    chosen = versions(good, returned, moving, return_refund, stale)
    AfterSale.objects.filter(pk=stale.pk).update(version=stale.version + 1)
    job = bulk.start_reject_signed(shop=shop, user=merchant, versions=chosen, send_card=True)
    untouched = {a.pk: snapshot_of(AfterSale.objects.get(pk=a.pk)) for a in (returned, moving, return_refund, stale)}

    bulk.run_bulk_job(job.pk)

    assert outcomes(job) == {
        "AS-OK": (True, ""),
        "AS-BACK": (False, "The parcel is not signed for (now: returned)."),
        "AS-MOVING": (False, "The parcel is not signed for (now: in transit)."),
        "AS-RR": (False, "Not a refund-only request."),
        "AS-STALE": (
            False,
            "After-sale AS-STALE changed since you opened the page; nothing was done. Reload and try again.",
        ),
    }
    assert {pk: snapshot_of(AfterSale.objects.get(pk=pk)) for pk in untouched} == untouched
    assert EvidenceImage.objects.count() == 1


def snapshot_of(after_sale) -> tuple:
    return (
        after_sale.status,
        after_sale.version,
        after_sale.reject_reason,
        after_sale.evidence.count(),
        after_sale.logs.count(),
        BuyerNotification.objects.filter(line_id=after_sale.line_id).count(),
    )


def test_a_card_that_cannot_be_sent_fails_the_row_whole(db, shop, merchant):
    # The order's fifth application: no card may invite a sixth, so nothing of the row is done.
    order = make_order(shop, status=Order.Status.SHIPPED, lines=[{"paid_amount": "100.00"}])
    parcel = make_parcel(order, status=P.SIGNED)
    for n in range(4):
        make_after_sale(order, after_sale_no=f"AS-OLD{n}", status=S.CANCELLED, parcel=parcel)
    fifth = make_after_sale(order, after_sale_no="AS-FIFTH", parcel=parcel)
    before = snapshot_of(fifth)

    job = start_and_run(shop, merchant, [fifth], send_card=True)

    ok, reason = outcomes(job)["AS-FIFTH"]
    assert (ok, reason) == (
        False,
        "The after-sale card cannot be sent (The order already has 5 applications, cancelled ones included): "
        "untick it to reject without it.",
    )
    assert snapshot_of(AfterSale.objects.get(pk=fifth.pk)) == before

    again = start_and_run(shop, merchant, [AfterSale.objects.get(pk=fifth.pk)], send_card=False)
    assert outcomes(again)["AS-FIFTH"] == (True, "")


def test_a_parcel_with_no_signature_event_is_not_rejected(db, shop, merchant):
    after_sale = signed(shop, no="AS-NOEVENT")
    TrackingEvent.objects.filter(parcel=after_sale.parcel).delete()

    job = start_and_run(shop, merchant, [after_sale])

    assert outcomes(job) == {"AS-NOEVENT": (False, "The parcel's tracking holds no signature event to show.")}
    assert AfterSale.objects.get(pk=after_sale.pk).status == S.PENDING_MERCHANT


def test_a_job_run_twice_acts_once_per_after_sale(db, shop, merchant):
    first, second = signed(shop, no="AS-T1"), signed(shop, no="AS-T2")
    job = start_and_run(shop, merchant, [first, second])
    BulkJob.objects.filter(pk=job.pk).update(status=BulkJob.Status.RUNNING, finished_at=None)  # as if it died late
    before = snapshot()

    assert bulk.run_bulk_job(job.pk) == "done"

    assert snapshot() == before
    assert outcomes(job) == {"AS-T1": (True, ""), "AS-T2": (True, "")}
    assert BulkJobRow.objects.filter(job=job).count() == 2


def test_a_job_cut_short_carries_on_where_it_stopped(db, shop, merchant):
    first, second = signed(shop, no="AS-C1"), signed(shop, no="AS-C2")
    job = bulk.start_reject_signed(shop=shop, user=merchant, versions=versions(first, second), send_card=False)
    bulk._run_row(job, first.pk, first.version, at=None)  # the worker died after the first row

    bulk.run_bulk_job(job.pk)

    assert outcomes(job) == {"AS-C1": (True, ""), "AS-C2": (True, "")}
    assert EvidenceImage.objects.count() == 2


@pytest.mark.parametrize(
    ("chosen", "code"),
    [({}, "nothing_selected"), ({n: 1 for n in range(1, bulk.MAX_BULK_AFTER_SALES + 2)}, "too_many")],
)
def test_starting_with_nothing_or_too_much_is_refused_and_records_nothing(db, shop, merchant, chosen, code):
    with pytest.raises(DomainError) as error:
        bulk.start_reject_signed(shop=shop, user=merchant, versions=chosen, send_card=True)
    assert error.value.code == code
    assert BulkJob.objects.count() == 0


def test_another_shops_after_sale_cannot_be_put_in_a_job(db, shop, other_shop, merchant):
    mine, theirs = signed(shop), signed(other_shop)

    with pytest.raises(NotFound):
        bulk.start_reject_signed(shop=shop, user=merchant, versions=versions(mine, theirs), send_card=True)

    assert BulkJob.objects.count() == 0


def test_a_member_without_after_sales_handling_cannot_start_one(db, shop):
    agent = make_member(shop, PermissionSet.SETTLEMENT)
    after_sale = signed(shop)

    with pytest.raises(PermissionRefused):
        bulk.start_reject_signed(shop=shop, user=agent, versions=versions(after_sale), send_card=True)
    assert BulkJob.objects.count() == 0


# --- the pages -------------------------------------------------------------------------------------
def ticked(*after_sales, **extra) -> dict:
    data = {"ids": [str(a.pk) for a in after_sales], **extra}
    for a in after_sales:
        data[f"version_{a.pk}"] = str(a.version)
    return data


def test_the_quick_view_lists_signed_and_returned_refund_only_ones(client, shop, merchant):
    signed(shop, no="AS-Q1")
    make_after_sale_on_new_order(shop, no="AS-Q2", parcel_status=P.RETURNED)
    make_after_sale_on_new_order(shop, no="AS-Q3", parcel_status=P.IN_TRANSIT)
    signed(shop, no="AS-Q4", type=T.RETURN_REFUND)
    signed(shop, no="AS-Q5", status=S.REFUNDED)
    client.force_login(merchant)

    page = client.get(reverse("aftersales:workbench"))
    view = next(item for item in page.context["quick_views"] if item.view.key == "signed_refund_only")
    listed = client.get(reverse("aftersales:workbench") + "?" + view.view.query)

    assert view.display == "2"
    assert sorted(row.record.after_sale_no for row in listed.context["table"].rows) == ["AS-Q1", "AS-Q2"]


def test_the_confirmation_lists_what_will_and_will_not_be_done(client, shop, merchant):
    good, returned = (
        signed(shop, no="AS-P1", amount="88.50"),
        make_after_sale_on_new_order(shop, no="AS-P2", parcel_status=P.RETURNED),
    )
    client.force_login(merchant)
    before = snapshot()
    data = ticked(good, returned, query="type=refund_only")

    page = client.post(reverse("aftersales:bulk-reject-signed-preview"), data)

    assert page.status_code == 200
    assert [a.after_sale_no for a in page.context["ready"]] == ["AS-P1"]
    assert [(a.after_sale_no, reason) for a, reason in page.context["skipped"]] == [
        ("AS-P2", "the parcel is not signed for (now: returned)")
    ]
    assert page.context["refund_total"] == good.amount
    assert page.context["back"] == reverse("aftersales:workbench") + "?type=refund_only"
    assert snapshot() == before and BulkJob.objects.count() == 0


def test_every_filtered_row_can_be_previewed_at_once(client, shop, merchant):
    signed(shop, no="AS-F1")
    signed(shop, no="AS-F2")
    make_after_sale_on_new_order(shop, no="AS-F3", parcel_status=P.IN_TRANSIT)
    client.force_login(merchant)

    page = client.post(
        reverse("aftersales:bulk-reject-signed-preview"), {"all_filtered": "1", "query": "logistics=signed"}
    )

    assert sorted(a.after_sale_no for a in page.context["ready"]) == ["AS-F1", "AS-F2"]


def test_confirming_runs_the_job_and_shows_each_row(client, shop, merchant, django_capture_on_commit_callbacks):
    good, returned = signed(shop, no="AS-J1"), make_after_sale_on_new_order(shop, no="AS-J2", parcel_status=P.RETURNED)
    client.force_login(merchant)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("aftersales:bulk-reject-signed"), ticked(good, returned, send_card="on"))

    job = BulkJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("aftersales:bulk-job", args=[job.pk])
    page = client.get(response["Location"])
    assert (page.context["done"], page.context["failed"], page.context["waiting"], page.context["running"]) == (
        1,
        1,
        0,
        False,
    )
    row = next(row for row in page.context["rows"] if row.ok)
    image = client.get(reverse("aftersales:evidence", args=[row.after_sale.after_sale_no, row.evidence_id]))
    assert (image.status_code, image["Content-Type"]) == (200, "image/png")
    assert Image.open(io.BytesIO(b"".join(image.streaming_content))).format == "PNG"


def test_a_selection_that_cannot_be_read_is_refused(client, shop, merchant):
    after_sale = signed(shop)
    client.force_login(merchant)

    response = client.post(reverse("aftersales:bulk-reject-signed"), {"ids": [str(after_sale.pk)], "version_x": "1"})

    assert response.status_code == 302
    assert BulkJob.objects.count() == 0
    assert AfterSale.objects.get(pk=after_sale.pk).status == S.PENDING_MERCHANT


def test_the_timeline_image_of_an_after_sale_opens_as_a_png(client, shop, merchant):
    after_sale = signed(shop, no="AS-IMG")
    client.force_login(merchant)

    with translation.override("zh-hans"):
        response = client.get(reverse("aftersales:timeline-image", args=["AS-IMG"]), HTTP_ACCEPT_LANGUAGE="zh-CN")

    assert (response.status_code, response["Content-Type"]) == (200, "image/png")
    assert Image.open(io.BytesIO(response.content)).size[0] == evidence_images.WIDTH
    assert after_sale.parcel_id


@pytest.mark.parametrize("page", ["preview", "start", "job", "image"])
def test_another_shops_rows_and_jobs_are_404(client, shop, other_shop, merchant, other_merchant, page):
    theirs = signed(other_shop, no="AS-THEIRS")
    job = start_and_run(other_shop, other_merchant, [theirs])
    client.force_login(merchant)
    before = snapshot()

    if page == "preview":
        response = client.post(reverse("aftersales:bulk-reject-signed-preview"), ticked(theirs))
    elif page == "start":
        response = client.post(reverse("aftersales:bulk-reject-signed"), ticked(signed(shop), theirs))
        before = None
    elif page == "job":
        response = client.get(reverse("aftersales:bulk-job", args=[job.pk]))
    else:
        response = client.get(reverse("aftersales:timeline-image", args=["AS-THEIRS"]))

    assert response.status_code == 404
    if before is not None:
        assert snapshot() == before
    assert BulkJob.objects.count() == 1


@override_settings(LANGUAGE_CODE="zh-hans")
def test_the_bulk_bar_offers_the_rejection(client, shop, merchant):
    client.force_login(merchant)

    page = client.get(reverse("aftersales:workbench") + "?logistics=signed", HTTP_ACCEPT_LANGUAGE="zh-CN")

    assert 'id="bulk-reject-signed"' in page.content.decode()
    assert 'id="bulk-reject-signed-all"' in page.content.decode()


# --- the ones that came back: refunded in bulk ---------------------------------------------------
@pytest.mark.parametrize(
    ("case", "blocker"),
    [
        (facts(parcel=P.RETURNED), None),
        (facts(status=S.REFUND_AFTER_REFUSAL, parcel=P.RETURNED), None),
        (facts(parcel=P.SIGNED), "the parcel has not come back (now: signed)"),
        (facts(parcel=P.RETURNING), "the parcel has not come back (now: returning)"),
        (facts(parcel=None), "the goods were not shipped"),
        (facts(type=T.RETURN_REFUND, parcel=P.RETURNED), "not a refund-only request"),
        (facts(status=S.REFUNDED, parcel=P.RETURNED), "the after-sale is closed"),
        (facts(status=S.ARBITRATION, parcel=P.RETURNED), "the platform is deciding this after-sale"),
        (
            rules.ActionFacts(
                status=S.PENDING_MERCHANT, type=T.REFUND_ONLY, parcel_status=P.RETURNED, line_refundable=5, amount=10
            ),
            "the amount is above what is left to refund on the line",
        ),
    ],
)
def test_returned_refund_blocker_at_each_boundary(case, blocker):
    assert rules.returned_refund_blocker(case) == blocker


def test_the_returned_ones_are_refunded_and_the_others_left_with_the_reason(db, shop, merchant):
    back = make_after_sale_on_new_order(shop, no="AS-R1", parcel_status=P.RETURNED, amount="66.60")
    still_signed = signed(shop, no="AS-R2")
    job = bulk.start_refund_returned(shop=shop, user=merchant, versions=versions(back, still_signed))
    untouched = snapshot_of(AfterSale.objects.get(pk=still_signed.pk))

    bulk.run_bulk_job(job.pk)

    assert outcomes(job) == {"AS-R1": (True, ""), "AS-R2": (False, "The parcel has not come back (now: signed).")}
    back.refresh_from_db()
    assert (back.status, back.refunded_amount) == (S.REFUNDED, back.amount)
    assert list(back.refunds.values_list("amount", flat=True)) == [back.amount]
    assert snapshot_of(AfterSale.objects.get(pk=still_signed.pk)) == untouched


def test_a_refund_job_run_twice_refunds_once(db, shop, merchant):
    back = make_after_sale_on_new_order(shop, no="AS-RT", parcel_status=P.RETURNED)
    job = bulk.start_refund_returned(shop=shop, user=merchant, versions=versions(back))
    bulk.run_bulk_job(job.pk)
    BulkJob.objects.filter(pk=job.pk).update(status=BulkJob.Status.RUNNING)
    before = snapshot()

    bulk.run_bulk_job(job.pk)

    assert snapshot() == before
    assert AfterSale.objects.get(pk=back.pk).refunds.count() == 1


def test_the_refund_confirmation_and_job_pages(client, shop, merchant, django_capture_on_commit_callbacks):
    back = make_after_sale_on_new_order(shop, no="AS-RP1", parcel_status=P.RETURNED, amount="30.00")
    moving = make_after_sale_on_new_order(shop, no="AS-RP2", parcel_status=P.IN_TRANSIT)
    client.force_login(merchant)
    before = snapshot()

    page = client.post(reverse("aftersales:bulk-refund-returned-preview"), ticked(back, moving))

    assert [a.after_sale_no for a in page.context["ready"]] == ["AS-RP1"]
    assert [(a.after_sale_no, r) for a, r in page.context["skipped"]] == [
        ("AS-RP2", "the parcel has not come back (now: in transit)")
    ]
    assert page.context["refund_total"] == back.amount
    assert snapshot() == before
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(reverse("aftersales:bulk-refund-returned"), ticked(back))
    job_page = client.get(started["Location"])
    assert (job_page.context["done"], job_page.context["failed"]) == (1, 0)
    assert 'class="badge badge-ok">refunded<' in job_page.content.decode()
    assert AfterSale.objects.get(pk=back.pk).status == S.REFUNDED


@pytest.mark.parametrize("page", ["preview", "start"])
def test_another_shops_returned_ones_cannot_be_refunded(client, shop, other_shop, merchant, page):
    theirs = make_after_sale_on_new_order(other_shop, no="AS-RTHEIRS", parcel_status=P.RETURNED)
    client.force_login(merchant)
    before = snapshot()

    name = "aftersales:bulk-refund-returned-preview" if page == "preview" else "aftersales:bulk-refund-returned"
    response = client.post(reverse(name), ticked(theirs))

    assert response.status_code == 404
    assert snapshot() == before and BulkJob.objects.count() == 0
