"""Layout at the widths merchants use (1440 and 1280 px): no table cell wraps one character a line.

The check runs in the page: for every text node inside a table cell, badge or tag, the line boxes of
that node (Range.getClientRects) — a node that breaks over several lines, one of which holds a
single character ("仅退" / "款"), is reported with its text. Screenshots of each page and width go
to var/screenshots/ for a person to look at.
"""

import pytest
from django.core.management import call_command

from interception.models import InterceptionBatch, ServiceOrder
from shop.models import Shop, User
from tests.browser.steps import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = (1440, 1280)

# Returns [text of a wrapped node, ...]: nodes whose line boxes include one no wider than ~1.5 characters.
ONE_CHARACTER_LINES = """
() => {
  const found = [];
  const cells = document.querySelectorAll("table td, table th, .badge, .tag, .quick-view");
  for (const cell of cells) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.textContent.trim();
      if (text.length < 2) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      const lines = [...range.getClientRects()].filter((r) => r.width > 0);
      if (lines.length < 2) continue;
      const size = parseFloat(getComputedStyle(node.parentElement).fontSize);
      if (lines.some((r) => r.width < size * 1.5)) found.push(text);
    }
  }
  return [...new Set(found)];
}
"""


@pytest.fixture
def demo(transactional_db):
    call_command("seed_demo", orders=80, verbosity=0)
    shop = Shop.objects.get(code="demo-shop")
    # A batch of the demo's service orders, some failed, for the batch page.
    batch = InterceptionBatch.objects.create(shop=shop, created_by=User.objects.get(username="merchant"), via="bulk")
    ids = list(ServiceOrder.objects.filter(shop=shop).order_by("id").values_list("pk", flat=True)[:60])
    ServiceOrder.objects.filter(pk__in=ids).update(batch=batch)
    return {"batch": batch}


@pytest.mark.parametrize("width", WIDTHS)
def test_workbench_and_batch_page_have_no_one_character_lines(page, live_server, demo, screenshot, width):
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, live_server, "merchant")
    pages = {
        "workbench": f"{live_server.url}/aftersales/",
        "workbench-in-transit": f"{live_server.url}/aftersales/?status=open&type=refund_only&logistics=in_transit",
        "batch": f"{live_server.url}/interception/batches/{demo['batch'].pk}/",
        "service-orders": f"{live_server.url}/interception/service-orders/",
    }
    wrapped = {}
    for name, url in pages.items():
        page.goto(url)
        page.wait_for_load_state("networkidle")
        screenshot(f"layout-{name}-{width}")
        found = page.evaluate(ONE_CHARACTER_LINES)
        if found:
            wrapped[name] = found
    assert not wrapped, wrapped
