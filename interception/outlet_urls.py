from django.urls import path

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
]
