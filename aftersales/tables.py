"""The workbench table: one row per after-sale, rendered from the selector's joins, no per-row query."""

import inspect
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cached_property
from html import escape as esc
from operator import attrgetter
from urllib.parse import quote

import django_tables2 as tables
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import RFC3986_SUBDELIMS
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_tables2.utils import OrderBy, OrderByTuple

from shop import pagination
from shop.keyset import KeysetPage
from shop.models import Parcel, Shop

from . import extensions, rules, selectors
from .models import AfterSale

PAGE_SIZES = (20, 50, 100)
DEFAULT_PAGE_SIZE = 50


def page_size(value) -> int:
    """Only the offered page sizes: a hand-written ?per_page=100000 gets the default."""
    return pagination.page_size(value, default=DEFAULT_PAGE_SIZE, choices=PAGE_SIZES)


def countdown(deadline: datetime | None, now: datetime) -> str:
    """What is left until the deadline, to the minute ("5 h 12 min"), or that it has passed."""
    if deadline is None:
        return "—"
    left = deadline - now
    if left <= timedelta(0):
        return _("timed out")
    minutes = int(left.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return _("%(days)d d %(hours)d h") % {"days": days, "hours": hours}
    return _("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": minutes}


def countdown_class(deadline: datetime | None, now: datetime) -> str:
    if deadline is None:
        return ""
    if deadline <= now:
        return "overdue"
    return "soon" if rules.is_about_to_time_out(deadline, now) else ""


def detail_url(after_sale_no: str) -> str | None:
    """The detail page's address, or None while that page does not exist."""
    try:
        return reverse("aftersales:after-sale-detail", kwargs={"after_sale_no": after_sale_no})
    except NoReverseMatch:
        return None


def truncate(text: str, length: int) -> str:
    """Truncator(text).chars(length), without its cost for the many texts already short enough."""
    return text if len(text) <= length else Truncator(text).chars(length)


class SelectColumn(tables.Column):
    """A checkbox per row plus the version the page shows, posted together to the bulk action."""

    def __init__(self, **kwargs):
        kwargs.update(
            accessor="pk",
            empty_values=(),
            orderable=False,
            verbose_name="",
            attrs={"th": {"class": "select"}, "td": {"class": "select"}},
        )
        super().__init__(**kwargs)

    @property
    def header(self):
        # Hidden until static/js/workbench.js shows it: without JavaScript rows are ticked one by one.
        return format_html(
            '<input type="checkbox" class="js-select-all" aria-label="{}" hidden>', _("Select all on this page")
        )

    def render(self, record):
        label = esc(_("Select %(no)s") % {"no": record.after_sale_no})
        return mark_safe(
            f'<input type="checkbox" name="ids" value="{record.pk}" class="js-select" aria-label="{label}">'
            f'<input type="hidden" name="version_{record.pk}" value="{record.version}">'
        )


class WorkbenchTable(tables.Table):
    select = SelectColumn()
    after_sale_no = tables.Column(verbose_name=gettext_lazy("After-sale no."), orderable=False)
    order_no = tables.Column(verbose_name=gettext_lazy("Order no."), accessor="order__order_no", orderable=False)
    goods = tables.Column(verbose_name=gettext_lazy("Goods"), accessor="line__title", orderable=False)
    type = tables.Column(verbose_name=gettext_lazy("Type"), orderable=False)
    reason = tables.Column(verbose_name=gettext_lazy("Reason"), orderable=False)
    amount = tables.Column(verbose_name=gettext_lazy("Amount"), orderable=False, attrs={"td": {"class": "num"}})
    refunded_amount = tables.Column(
        verbose_name=gettext_lazy("Refunded"), orderable=False, attrs={"td": {"class": "num"}}
    )
    status = tables.Column(verbose_name=gettext_lazy("Status"), orderable=False)
    tags = tables.Column(verbose_name=gettext_lazy("Tags"), empty_values=(), orderable=False)
    parcel = tables.Column(verbose_name=gettext_lazy("Parcel"), empty_values=(), orderable=False)
    flag = tables.Column(verbose_name=gettext_lazy("Flag and remark"), empty_values=(), orderable=False)
    deadline = tables.Column(verbose_name=gettext_lazy("Time left"), empty_values=())
    buyer = tables.Column(verbose_name=gettext_lazy("Buyer"), empty_values=(), orderable=False)

    class Meta:
        model = AfterSale
        fields = ()
        sequence = (
            "select",
            "after_sale_no",
            "order_no",
            "goods",
            "type",
            "reason",
            "amount",
            "refunded_amount",
            "status",
            "tags",
            "parcel",
            "flag",
            "deadline",
            "buyer",
        )
        order_by = ("deadline",)
        per_page = DEFAULT_PAGE_SIZE
        template_name = "aftersales/partials/_workbench_table.html"
        attrs = {"class": "table workbench"}
        row_attrs = {"class": lambda record, table: countdown_class(record.deadline, table.now)}

    page_sizes = PAGE_SIZES  # offered by the pager (the table template sees only the table)

    def __init__(
        self, *args, shop: Shop, now: datetime | None = None, page: KeysetPage | None = None, per_page=None, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.shop = shop
        self.now = now or timezone.now()
        self.keyset = page  # the pager's cursors (shop.keyset): the rows are that page already
        self.per_page = per_page or DEFAULT_PAGE_SIZE

    @property
    def order_by(self):
        return self._order_by

    @order_by.setter
    def order_by(self, value):
        # The rows come in this order from the keyset page (deadline NULLS LAST, then id, over the
        # index): the header shows the order and its toggle; nothing is sorted again here.
        aliases = value.split(",") if isinstance(value, str) else (value or ())
        self._order_by = OrderByTuple(
            a for a in aliases if OrderBy(a).bare in self.columns and self.columns[OrderBy(a).bare].orderable
        )

    @cached_property
    def body_html(self) -> str:
        """The rows' <tr>s, written straight from the render_* methods.

        django-tables2 renders a cell through a generic dispatch (inspect.signature, accessors, a
        template node per cell), which costs more than the page's queries together at 50–100 rows.
        This writes the same markup (a test keeps it equal to django-tables2's) for a few ms a page.
        """
        return mark_safe("".join(self._row_html(record, counter) for counter, record in enumerate(self.data)))

    @cached_property
    def _cells(self) -> list[tuple[str, Callable]]:
        """Each shown column's opening <td> and the function writing its cell, in the table's own order.

        Read off the table's columns once a page: a column added to the class or to Meta.sequence, or
        hidden, is written here as django-tables2 would, with no second list of columns to keep.
        """
        return [(f"<td {bound.attrs['td'].as_html()}>", self._cell_writer(bound)) for bound in self.columns]

    def _cell_writer(self, bound) -> Callable:
        # The cell as django-tables2 writes it: the column's own render() (the checkbox), else the
        # table's render_<name>(record=… or value=…), else the value escaped.
        render = getattr(self, f"render_{bound.name}", None)
        if render is None and type(bound.column).render is not tables.Column.render:
            return bound.column.render
        value = attrgetter(bound.accessor.replace("__", "."))
        if render is None:
            return lambda record: esc(str(value(record)))
        if "record" in inspect.signature(render).parameters:
            return render
        return lambda record: render(value(record))

    def _row_html(self, record, counter: int) -> str:
        row_class = countdown_class(record.deadline, self.now)
        row_class = (
            f"{row_class} {'odd' if counter % 2 else 'even'}" if row_class else ("odd" if counter % 2 else "even")
        )
        cells = "".join(f"{td}{write(record)}</td>" for td, write in self._cells)
        return f'<tr class="{row_class}">{cells}</tr>'

    @cached_property
    def tz(self):
        return timezone.get_current_timezone()

    def local(self, value: datetime, fmt: str = "%Y-%m-%d %H:%M") -> str:
        """Local (Shanghai) time, with the page's time zone looked up once rather than three times a row."""
        return value.astimezone(self.tz).strftime(fmt)

    @cached_property
    def texts(self) -> dict[str, str]:
        """Fixed texts of the cells, translated once per page."""
        return {
            "abuse_title": _("Refund-only requests of this buyer in this shop over the last 90 days"),
            "abuse": _("90 d refund-only: %(count)d · %(amount)s yuan"),
            "sequence": _("Application #%(n)s"),
            "multi_refund": _("Repeat refund"),
            "refusal": _("Refund after refusal"),
        }

    @cached_property
    def labels(self) -> dict[str, dict[str, str]]:
        """Choice labels translated once per page, not once per cell."""
        choices = {
            "type": AfterSale.Type.choices,
            "reason": AfterSale.Reason.choices,
            "status": AfterSale.Status.choices,
            "flag": AfterSale.Flag.choices,
            "parcel": Parcel.Status.choices,
        }
        return {name: {code: str(label) for code, label in pairs} for name, pairs in choices.items()}

    @cached_property
    def abuse(self) -> dict[int, dict]:
        """The refund-abuse hint of the buyers on this page, in one query for the whole page."""
        buyer_ids = [record.buyer_id for record in self.data]
        return selectors.abuse_stats(shop=self.shop, buyer_ids=buyer_ids, now=self.now)

    @cached_property
    def detail_url_template(self) -> str | None:
        # One reverse() a page, not one a row: the after-sale number is the only part that varies.
        url = detail_url("0")
        return url[: url.rindex("/0/")] + "/{}/" if url else None

    def render_after_sale_no(self, record):
        # Cells are written with the standard library's html.escape (what django's escape() calls)
        # and f-strings: format_html's lazy-aware escaping costs more than the rest of a row.
        applied = f'<br><span class="small muted">{self.local(record.applied_at)}</span>'
        template = self.detail_url_template
        no = esc(record.after_sale_no)
        if template:
            url = esc(template.format(quote(record.after_sale_no, safe=RFC3986_SUBDELIMS + "~:@")))
            return mark_safe(f'<a href="{url}">{no}</a>{applied}')
        return mark_safe(f"{no}{applied}")

    def render_goods(self, value):
        return mark_safe(f'<span title="{esc(value)}">{esc(truncate(value, 24))}</span>')

    def render_type(self, value):
        return mark_safe(esc(self.labels["type"].get(value, value)))

    def render_reason(self, value):
        return mark_safe(esc(self.labels["reason"].get(value, value)))

    def render_amount(self, value):
        return f"{value:,.2f}"

    def render_refunded_amount(self, value):
        return f"{value:,.2f}" if value else "—"

    def render_status(self, record):
        label = esc(self.labels["status"][record.status])
        return mark_safe(f'<span class="badge badge-as-{esc(record.status)}">{label}</span>')

    @cached_property
    def extension_tags(self) -> dict[int, list[tuple[str, str]]]:
        """Tags higher layers add (e.g. the interception state), for the whole page at once."""
        return extensions.tags_for(list(self.data))

    def render_tags(self, record):
        tags = list(self.extension_tags.get(record.pk, []))
        if record.sequence > 1:
            tags.append(("tag-seq", self.texts["sequence"] % {"n": record.sequence}))
        if record.multi_refund:
            tags.append(("tag-multi", self.texts["multi_refund"]))
        if record.status == AfterSale.Status.REFUND_AFTER_REFUSAL:
            tags.append(("tag-refusal", self.texts["refusal"]))
        return mark_safe(" ".join(f'<span class="tag {esc(css)}">{esc(label)}</span>' for css, label in tags))

    def render_parcel(self, record):
        parcel = record.parcel
        if parcel is None:
            return "—"
        label = esc(self.labels["parcel"].get(parcel.status, parcel.status))
        return mark_safe(
            f"{esc(parcel.courier.name)} {esc(parcel.tracking_no)}<br>"
            f'<span class="badge badge-{esc(parcel.status)}">{label}</span>'
        )

    def render_flag(self, record):
        parts = []
        if record.flag:
            label = esc(self.labels["flag"].get(record.flag, record.flag))
            parts.append(f'<span class="flag-dot flag-{esc(record.flag)}" title="{label}" aria-label="{label}"></span>')
        if record.remark:
            parts.append(f'<span title="{esc(record.remark)}">{esc(truncate(record.remark, 30))}</span>')
        return mark_safe(" ".join(parts))

    def render_deadline(self, record):
        if record.deadline is None:
            return "—"
        return mark_safe(
            f'<span class="countdown {countdown_class(record.deadline, self.now)}" '
            f'title="{self.local(record.deadline)}">{esc(countdown(record.deadline, self.now))}</span>'
            f'<br><span class="small muted">{self.local(record.deadline, "%m-%d %H:%M")}</span>'
        )

    def render_buyer(self, record):
        stats = self.abuse.get(record.buyer_id)
        hint = ""
        if stats:
            text = self.texts["abuse"] % {"count": stats["count"], "amount": f"{stats['amount']:,.2f}"}
            hint = (
                f'<br><span class="abuse{" flagged" if stats["flagged"] else ""}" '
                f'title="{esc(self.texts["abuse_title"])}">{esc(text)}</span>'
            )
        return mark_safe(f"{esc(record.buyer.nickname)}{hint}")
