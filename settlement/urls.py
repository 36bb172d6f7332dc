"""The merchant's settlement pages (namespace `settlement`): the home and the fee ledger here, then the
statements' and the claims' own URL lists, included without a namespace of their own."""

from django.urls import include, path

from . import views
from .claims import urls as claim_urls
from .statements import urls as statement_urls

app_name = "settlement"

urlpatterns = [
    path("", views.SettlementHomeView.as_view(), name="home"),
    path("fees/", views.FeeLedgerView.as_view(), name="fees"),
    path("", include(statement_urls)),
    path("", include(claim_urls)),
]
