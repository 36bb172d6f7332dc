"""The outlet portal's statement pages, included into the `outlet` namespace by interception/outlet_urls.py."""

from django.urls import path

from .views import outlet

urlpatterns = [
    path("", outlet.OutletStatementListView.as_view(), name="statements"),
    path("<int:pk>/", outlet.OutletStatementDetailView.as_view(), name="statement-detail"),
    path("<int:pk>/confirm/", outlet.OutletStatementConfirmView.as_view(), name="statement-confirm"),
    path("<int:pk>/dispute/", outlet.OutletStatementDisputeView.as_view(), name="statement-dispute"),
    path("<int:pk>/lines.csv", outlet.OutletStatementCsvView.as_view(), name="statement-csv"),
    path("<int:pk>/lines.xlsx", outlet.OutletStatementXlsxView.as_view(), name="statement-xlsx"),
]
