"""The merchant's service-order query (服务单查询) and its exports, of exactly the filtered rows."""

import tempfile

from django.http import FileResponse
from django.views import View
from django_filters.views import FilterView
from django_tables2.paginators import LazyPaginator

from shop import streaming
from shop.access import MerchantRequiredMixin
from shop.pagination import PagedTableMixin
from shop.permissions import PermissionSet

from .. import selectors
from ..filters import ServiceOrderFilter, filtered_service_orders
from ..tables import ServiceOrderTable, service_order_export_header, service_order_export_rows


class ServiceOrderListView(MerchantRequiredMixin, PagedTableMixin, FilterView):
    table_class = ServiceOrderTable
    filterset_class = ServiceOrderFilter
    template_name = "interception/service_order_list.html"
    table_pagination = {"per_page": 50, "paginator_class": LazyPaginator}

    def get_queryset(self):
        return selectors.service_orders_for_shop(shop=self.shop).order_by("-created_at", "-id")


class ServiceOrderCsvView(MerchantRequiredMixin, View):
    """Exactly the filtered rows, streamed: memory stays flat whatever the count."""

    permission_set = PermissionSet.AFTERSALES

    def get(self, request):
        rows = service_order_export_rows(filtered_service_orders(shop=self.shop, data=request.GET))
        return streaming.csv_response(filename="service-orders.csv", header=service_order_export_header(), rows=rows)


class ServiceOrderXlsxView(MerchantRequiredMixin, View):
    """XLSX of exactly the filtered rows, written row by row to a temporary file (shop.streaming)."""

    permission_set = PermissionSet.AFTERSALES

    def get(self, request):
        rows = service_order_export_rows(filtered_service_orders(shop=self.shop, data=request.GET))
        handle = tempfile.TemporaryFile()
        streaming.write_xlsx(handle, title="service orders", header=service_order_export_header(), rows=rows)
        handle.seek(0)
        return FileResponse(handle, as_attachment=True, filename="service-orders.xlsx")
