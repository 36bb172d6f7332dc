"""Page parameters of every list page, parsed and clamped in one place: no query string fails a page.

`?page=` and `?per_page=` are typed by hand as often as they are clicked. Whatever they say
(`-1`, `0`, `abc`, `10**20`), a list page answers with a page of rows: the first page for a page
number that is not one, the last page past the end, the default size for a size that is not one,
and never more rows than `MAX_PER_PAGE`.
"""

from django.core.paginator import EmptyPage, Paginator
from django.views.generic import ListView
from django_tables2 import RequestConfig, SingleTableMixin, Table

DEFAULT_PER_PAGE = 25
# The most rows any list shows at once, whatever the URL asks for.
MAX_PER_PAGE = 100
# The deepest page a list seeks to. Uncounted (lazy) lists turn the page into an OFFSET: this keeps
# it far inside a 64-bit integer (the database refuses a larger one) at any page size.
MAX_PAGE = 1_000_000
# A longer run of digits is read as "very large" without int() (which reads at most 4 300 digits).
_MAX_DIGITS = 18
_VERY_LARGE = 10**_MAX_DIGITS


def _int(value) -> int | None:
    """The whole number written in the ASCII digits of value (with an optional "-"), else None."""
    if isinstance(value, int):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip()
    digits = text[1:] if text.startswith("-") else text
    if not digits or not digits.isascii() or not digits.isdigit():
        return None
    number = int(digits) if len(digits) <= _MAX_DIGITS else _VERY_LARGE
    return -number if text.startswith("-") else number


def page_number(value) -> int:
    """The page asked for, from 1 to MAX_PAGE; 1 for anything that is not a page number."""
    number = _int(value)
    if number is None or number < 1:
        return 1
    return min(number, MAX_PAGE)


def page_size(value, *, default: int = DEFAULT_PER_PAGE, choices=None) -> int:
    """The page size asked for: one of `choices` when given (else the default), at most MAX_PER_PAGE."""
    size = _int(value)
    if size is None or size < 1:
        return default
    if choices is not None:
        return size if size in choices else default
    return min(size, MAX_PER_PAGE)


def paginate_table(
    table: Table, request, *, per_page: int = DEFAULT_PER_PAGE, paginator_class=Paginator, **paginator_kwargs
) -> Table:
    """Paginate the table on the request's page and page size, clamped (see the module docstring)."""
    page = page_number(request.GET.get(table.prefixed_page_field))
    size = page_size(request.GET.get(table.prefixed_per_page_field), default=per_page)
    try:
        table.paginate(paginator_class=paginator_class, per_page=size, page=page, **paginator_kwargs)
    except EmptyPage:
        # Past the end: the last page. A lazy paginator counts nothing and knows only the first.
        table.page = table.paginator.page(table.paginator.num_pages or 1)
    return table


class PagedTableMixin(SingleTableMixin):
    """SingleTableMixin whose page and page size come through `paginate_table`."""

    def get_table(self, **kwargs):
        table = self.get_table_class()(data=self.get_table_data(), **kwargs)
        # The request and the ordering as django-tables2 sets them; the pagination is ours.
        RequestConfig(self.request, paginate=False).configure(table)
        options = self.get_table_pagination(table)
        if options:
            options = dict(options) if isinstance(options, dict) else {}
            options.pop("silent", None)
            paginate_table(table, self.request, **{"per_page": table._meta.per_page, **options})
        return table


class PagedTableView(PagedTableMixin, ListView):
    """SingleTableView with the clamped pager."""
