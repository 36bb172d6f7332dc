from django.urls import include, path

from . import views
from .views import outlet

app_name = "outlet"

urlpatterns = [
    path("", views.OutletPortalView.as_view(), name="portal"),
    path("partnerships/<int:pk>/", outlet.OutletPartnershipDetailView.as_view(), name="partnership-detail"),
    path("partnerships/<int:pk>/approve/", outlet.OutletPartnershipApproveView.as_view(), name="partnership-approve"),
    path("partnerships/<int:pk>/reject/", outlet.OutletPartnershipRejectView.as_view(), name="partnership-reject"),
    path("service-orders/", outlet.OutletServiceOrderListView.as_view(), name="service-orders"),
    path("service-orders/export.csv", outlet.OutletServiceOrderCsvView.as_view(), name="service-orders-csv"),
    # Claims are settlement's: included by name, so that interception never imports settlement.
    path("claims/", include("settlement.outlet_claim_urls")),
    path("statements/", include("settlement.outlet_statement_urls")),
]
