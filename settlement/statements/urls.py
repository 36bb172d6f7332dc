"""The merchant's statement and reconciliation pages, in the `settlement` namespace (see settlement/urls.py).

The outlet portal's statement pages are listed with the rest of the portal in config/outlet_urls.py.
"""

from django.urls import path

from . import views

urlpatterns = [
    path("statements/", views.StatementListView.as_view(), name="statements"),
    path("statements/refresh/", views.StatementRefreshView.as_view(), name="statements-refresh"),
    path("statements/<int:pk>/", views.StatementDetailView.as_view(), name="statement-detail"),
    path("statements/<int:pk>/lines.csv", views.StatementCsvView.as_view(), name="statement-csv"),
    path("statements/<int:pk>/lines.xlsx", views.StatementXlsxView.as_view(), name="statement-xlsx"),
    path("statements/<int:pk>/payment/", views.StatementPaymentView.as_view(), name="statement-pay"),
    path("statements/<int:pk>/reissue/", views.StatementReissueView.as_view(), name="statement-reissue"),
    path("statements/<int:pk>/reconcile/", views.StatementReconcileView.as_view(), name="statement-reconcile"),
    path("reconciliations/<int:pk>/", views.ReconciliationDetailView.as_view(), name="reconciliation-detail"),
    path("reconciliations/<int:pk>/differences.csv", views.ReconciliationCsvView.as_view(), name="reconciliation-csv"),
]
