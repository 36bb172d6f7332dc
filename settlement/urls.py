from django.urls import path

from . import views
from .views import claims
from .views import fees as fee_views
from .views import statements as statement_views

app_name = "settlement"

urlpatterns = [
    path("", views.SettlementHomeView.as_view(), name="home"),
    path("fees/", fee_views.FeeLedgerView.as_view(), name="fees"),
    path("statements/", statement_views.StatementListView.as_view(), name="statements"),
    path("statements/refresh/", statement_views.StatementRefreshView.as_view(), name="statements-refresh"),
    path("statements/<int:pk>/", statement_views.StatementDetailView.as_view(), name="statement-detail"),
    path("statements/<int:pk>/lines.csv", statement_views.StatementCsvView.as_view(), name="statement-csv"),
    path("statements/<int:pk>/lines.xlsx", statement_views.StatementXlsxView.as_view(), name="statement-xlsx"),
    path("statements/<int:pk>/payment/", statement_views.StatementPaymentView.as_view(), name="statement-pay"),
    path("statements/<int:pk>/reissue/", statement_views.StatementReissueView.as_view(), name="statement-reissue"),
    path(
        "statements/<int:pk>/reconcile/", statement_views.StatementReconcileView.as_view(), name="statement-reconcile"
    ),
    path(
        "reconciliations/<int:pk>/",
        statement_views.ReconciliationDetailView.as_view(),
        name="reconciliation-detail",
    ),
    path(
        "reconciliations/<int:pk>/differences.csv",
        statement_views.ReconciliationCsvView.as_view(),
        name="reconciliation-csv",
    ),
    path("claims/", claims.ClaimListView.as_view(), name="claims"),
    path("claims/new/<int:service_order_pk>/", claims.ClaimNewView.as_view(), name="claim-new"),
    path("claims/<int:pk>/", claims.ClaimDetailView.as_view(), name="claim-detail"),
    path("claims/<int:pk>/compensate/", claims.ClaimCompensateView.as_view(), name="claim-compensate"),
    path("claims/<int:pk>/evidence/<int:evidence_pk>/", claims.ClaimEvidenceView.as_view(), name="claim-evidence"),
    path("claim-tracker/", claims.ClaimTrackerView.as_view(), name="claim-tracker"),
]
