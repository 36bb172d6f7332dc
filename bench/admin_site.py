"""What a Django team would reach for first: a default ModelAdmin changelist of the after-sales.

`list_filter` on status and the default paginator (COUNT(*), OFFSET), on an admin site of its own so
that the operators' real admin (aftersales/admin.py) is not what is measured.
"""

from django.contrib import admin
from django.urls import path

from aftersales.models import AfterSale
from config.urls import urlpatterns as project_urlpatterns

site = admin.AdminSite(name="bench_admin")


@admin.register(AfterSale, site=site)
class PlainAfterSaleAdmin(admin.ModelAdmin):
    list_filter = ["status"]


urlpatterns = [path("bench-admin/", site.urls), *project_urlpatterns]
