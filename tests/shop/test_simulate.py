import pytest
from django.core.management import call_command

from shop.models import Order, Parcel, PlatformEvent, TrackingEvent


@pytest.mark.django_db(transaction=True)
def test_simulate_sends_signed_events_that_the_server_applies(live_server, capsys):
    call_command("seed_demo", orders=0, verbosity=0)
    before = Order.objects.count()

    call_command("simulate", url=f"{live_server.url}/api/platform/events", orders=4, delay=0, seed=7)

    out = capsys.readouterr().out
    assert Order.objects.count() == before + 4
    assert Parcel.objects.filter(order__order_no__startswith="SIM").count() == 4
    assert " 401 " not in out and " 400 " not in out and " 500 " not in out
    assert PlatformEvent.objects.filter(type="order.paid").count() == 4
    # Late events were recorded without moving a parcel back.
    late = TrackingEvent.objects.filter(parcel__order__order_no__startswith="SIM", applied=False)
    for event in late:
        assert event.at < event.parcel.status_at
