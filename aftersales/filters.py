"""The workbench's FilterSet, its quick views, and the querystring that exports store and replay.

One FilterSet decides which after-sales a merchant sees: the page, the quick-view counts, the CSV and
the XLSX job all build it, so an export holds exactly the rows the page listed.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

import django_filters
from django.db import connections
from django.db.models import QuerySet
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shop import widgets
from shop.localtime import start_of_day
from shop.models import Courier, Parcel

from . import rules
from .models import AfterSale

S = AfterSale.Status
OPEN = "open"  # pseudo-status: every open status
NO_FLAG = "none"  # the empty flag, spelled so that it differs from "any flag"

# Forward logistics states as merchants think of them, mapped to the parcel statuses they cover.
LOGISTICS_STATES: dict[str, tuple[str, tuple[str, ...]]] = {
    "in_transit": (_("in transit"), Parcel.MOVING_STATUSES),
    "refused": (_("refused"), (Parcel.Status.REFUSED,)),
    "signed": (_("signed"), (Parcel.Status.SIGNED,)),
    "intercepted": (_("intercepted or returning"), (Parcel.Status.INTERCEPTED, Parcel.Status.RETURNING)),
    "returned": (_("returned"), (Parcel.Status.RETURNED,)),
    # Seed 002's first pass: the refund-only requests whose parcel has reached the buyer or come back.
    "signed_or_returned": (_("signed for or returned"), (Parcel.Status.SIGNED, Parcel.Status.RETURNED)),
    "problem": (_("exception, lost or damaged"), (Parcel.Status.EXCEPTION, Parcel.Status.LOST, Parcel.Status.DAMAGED)),
}
MAX_DEADLINE_HOURS = 24 * 30


def courier_choices() -> list[tuple[str, str]]:
    return list(Courier.objects.values_list("code", "name"))


class WorkbenchFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("Search"),
        method="filter_search",
        widget=widgets.TextInput(attrs={"placeholder": _("After-sale, order or tracking no., buyer")}),
    )
    status = django_filters.ChoiceFilter(
        widget=widgets.Select, label=_("Status"), choices=[(OPEN, _("all open")), *S.choices], method="filter_status"
    )
    type = django_filters.ChoiceFilter(widget=widgets.Select, label=_("Type"), choices=AfterSale.Type.choices)
    reason = django_filters.ChoiceFilter(widget=widgets.Select, label=_("Reason"), choices=AfterSale.Reason.choices)
    logistics = django_filters.ChoiceFilter(
        widget=widgets.Select,
        label=_("Logistics"),
        choices=[(key, label) for key, (label, _statuses) in LOGISTICS_STATES.items()],
        method="filter_logistics",
    )
    # Choices from one plain query a page: a ModelChoiceFilter iterates its queryset through a
    # server-side cursor on PostgreSQL (three round trips) for a list of a dozen couriers.
    courier = django_filters.ChoiceFilter(
        widget=widgets.Select, label=_("Courier"), choices=courier_choices, method="filter_courier"
    )
    flag = django_filters.ChoiceFilter(
        widget=widgets.Select,
        label=_("Flag"),
        choices=[(NO_FLAG, _("no flag")), *[(c.value, c.label) for c in AfterSale.Flag if c.value]],
        method="filter_flag",
    )
    multi_refund = django_filters.ChoiceFilter(
        widget=widgets.Select,
        label=_("Repeat refund"),
        choices=[("1", _("yes")), ("0", _("no"))],
        method="filter_multi_refund",
    )
    deadline_within = django_filters.NumberFilter(
        label=_("Deadline within (hours)"),
        method="filter_deadline_within",
        min_value=1,
        max_value=MAX_DEADLINE_HOURS,
        widget=widgets.NumberInput(attrs={"min": 1, "max": MAX_DEADLINE_HOURS, "step": 1, "class": "short"}),
    )
    amount_min = django_filters.NumberFilter(
        label=_("Amount from"),
        field_name="amount",
        lookup_expr="gte",
        widget=widgets.NumberInput(attrs={"step": "0.01", "class": "short"}),
    )
    amount_max = django_filters.NumberFilter(
        label=_("Amount to"),
        field_name="amount",
        lookup_expr="lte",
        widget=widgets.NumberInput(attrs={"step": "0.01", "class": "short"}),
    )
    applied_from = django_filters.DateFilter(
        label=_("Applied from"), method="filter_applied_from", widget=widgets.DateInput(attrs={"type": "date"})
    )
    applied_to = django_filters.DateFilter(
        label=_("Applied to"), method="filter_applied_to", widget=widgets.DateInput(attrs={"type": "date"})
    )

    class Meta:
        model = AfterSale
        fields = [
            "q",
            "status",
            "type",
            "reason",
            "logistics",
            "courier",
            "flag",
            "multi_refund",
            "deadline_within",
            "amount_min",
            "amount_max",
            "applied_from",
            "applied_to",
        ]

    def __init__(self, data=None, queryset=None, *, now: datetime | None = None, **kwargs):
        super().__init__(data, queryset, **kwargs)
        # One clock for the whole page: the filter, the countdowns and the quick-view counts agree.
        self.now = now or timezone.now()

    def get_form_class(self):
        # The form's fields depend on the class's filters only: build its class once per process,
        # not on every page (django-filter makes a new class per FilterSet instance).
        form_class = type(self).__dict__.get("_form_class")
        if form_class is None:
            form_class = type(self)._form_class = super().get_form_class()
        return form_class

    def filter_by(self, queryset, cleaned: dict):
        """`queryset` filtered by already-cleaned values (a quick view's), through the same filters."""
        for name, value in cleaned.items():
            queryset = self.filters[name].filter(queryset, value)
        return queryset

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        # One indexed lookup per kind of number, resolved to after-sale ids in one query first: an
        # OR across the joins would make the database walk every after-sale of the shop instead.
        # A buyer is found by id or by the whole nickname, as copied from the chat (an index, not a scan).
        branches = [
            queryset.filter(after_sale_no=value),
            queryset.filter(order__order_no=value),
            queryset.filter(parcel__tracking_no=value),
            queryset.filter(buyer__external_id=value),
            queryset.filter(buyer__nickname=value),
        ]
        ids = [branch.order_by().values_list("pk", flat=True) for branch in branches]
        return queryset.filter(pk__in=list(ids[0].union(*ids[1:])))

    def filter_status(self, queryset, name, value):
        if value == OPEN:
            return queryset.filter(status__in=AfterSale.OPEN_STATUSES)
        return queryset.filter(status=value)

    def filter_logistics(self, queryset, name, value):
        return queryset.filter(parcel__status__in=LOGISTICS_STATES[value][1])

    def filter_courier(self, queryset, name, value):
        return queryset.filter(parcel__courier__code=value)

    def filter_flag(self, queryset, name, value):
        return queryset.filter(flag="" if value == NO_FLAG else value)

    def filter_multi_refund(self, queryset, name, value):
        return queryset.filter(multi_refund=value == "1")

    def filter_deadline_within(self, queryset, name, value):
        # Same window as rules.is_about_to_time_out: from now, not yet past (the sweep takes those).
        return queryset.filter(deadline__gte=self.now, deadline__lt=self.now + timedelta(hours=float(value)))

    def filter_applied_from(self, queryset, name, value):
        return queryset.filter(applied_at__gte=start_of_day(value))

    def filter_applied_to(self, queryset, name, value):
        return queryset.filter(applied_at__lt=start_of_day(value + timedelta(days=1)))


def filtered_after_sales(queryset: QuerySet[AfterSale], params, *, now: datetime) -> QuerySet[AfterSale]:
    """The rows the workbench lists for these querystring parameters; invalid filters list nothing.

    Mirrors FilterView's strict mode, so that an export never holds more than the page showed.
    """
    filterset = WorkbenchFilter(params, queryset=queryset, now=now)
    if filterset.is_bound and not filterset.is_valid():
        return queryset.none()
    return filterset.qs


def filter_query(params) -> str:
    """The querystring of the filters alone (no page, page size or sort), as an export stores it."""
    query = QueryDict(mutable=True)
    for name in WorkbenchFilter.base_filters:
        value = params.get(name, "")
        if value and str(value).strip():
            query[name] = str(value).strip()
    return query.urlencode()


# --- quick views ---------------------------------------------------------------------------------
ABOUT_TO_TIME_OUT_HOURS = int(rules.ABOUT_TO_TIME_OUT.total_seconds() // 3600)
QUICK_VIEW_COUNT_CAP = 99  # counts stop here ("99+"): a page never counts more than 100 rows per view
# The page then asks for the counts again, up to here ("9999+"), once it has shown (static/js/workbench.js):
# at a million after-sales a view joined to its parcels costs ~0.2 s to count this far, too slow for
# the page itself and fine for a request of its own.
QUICK_VIEW_FULL_COUNT_CAP = 9999


@dataclass(frozen=True, eq=False)
class QuickView:
    key: str
    label: str
    params: dict[str, str]

    @property
    def query(self) -> str:
        return filter_query(self.params)

    @cached_property
    def cleaned(self) -> dict:
        """The params as the filter form cleans them, once per process (they are constants)."""
        form = WorkbenchFilter(self.params).form
        if not form.is_valid():
            raise ValueError(f"quick view {self.key}: {form.errors.as_json()}")
        return {name: form.cleaned_data[name] for name in self.params}


QUICK_VIEWS = (
    QuickView("pending", _("Pending"), {"status": S.PENDING_MERCHANT}),
    QuickView("refusal", _("Refund after refusal"), {"status": S.REFUND_AFTER_REFUSAL}),
    QuickView(
        "signed_refund_only",
        _("Refund only, parcel signed or returned"),
        {"status": OPEN, "type": AfterSale.Type.REFUND_ONLY, "logistics": "signed_or_returned"},
    ),
    QuickView(
        "in_transit_refund_only",
        _("Refund only, parcel in transit"),
        {"status": OPEN, "type": AfterSale.Type.REFUND_ONLY, "logistics": "in_transit"},
    ),
    QuickView(
        "about_to_time_out",
        _("About to time out"),
        {"status": OPEN, "deadline_within": str(ABOUT_TO_TIME_OUT_HOURS)},
    ),
)


@dataclass(frozen=True)
class QuickViewCount:
    view: QuickView
    count: int
    active: bool
    cap: int = QUICK_VIEW_COUNT_CAP

    @property
    def capped(self) -> bool:
        return self.count > self.cap

    @property
    def display(self) -> str:
        return f"{self.cap}+" if self.capped else str(self.count)


def quick_view_counts(
    queryset: QuerySet[AfterSale], *, current_params, now: datetime, cap: int = QUICK_VIEW_COUNT_CAP
) -> list[QuickViewCount]:
    """Each quick view with its count up to `cap`: COUNT(*) over a LIMIT subquery per view, all in one query."""
    current = filter_query(current_params)
    filterset = WorkbenchFilter(queryset=queryset, now=now)  # one, unbound: its filters, the page's clock
    capped = []
    for view in QUICK_VIEWS:
        rows = filterset.filter_by(queryset, view.cleaned).order_by().values("pk")[: cap + 1]
        capped.append(rows.query.sql_with_params())
    # One round trip for the four counts: they are read on every workbench page.
    sql = "SELECT " + ", ".join(f"(SELECT COUNT(*) FROM ({part}) AS view_{i})" for i, (part, _p) in enumerate(capped))
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, [param for _part, params in capped for param in params])
        counts = cursor.fetchone()
    return [
        QuickViewCount(view=view, count=count, active=current == view.query, cap=cap)
        for view, count in zip(QUICK_VIEWS, counts, strict=True)
    ]
