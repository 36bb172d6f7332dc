"""The outlet portal's claim pages, included into the `outlet` namespace by interception/outlet_urls.py."""

from django.urls import path

from .views import claims

urlpatterns = [
    path("", claims.OutletClaimListView.as_view(), name="claims"),
    path("<int:pk>/", claims.OutletClaimDetailView.as_view(), name="claim-detail"),
    path("<int:pk>/accept/", claims.OutletClaimAcceptView.as_view(), name="claim-accept"),
    path("<int:pk>/dispute/", claims.OutletClaimDisputeView.as_view(), name="claim-dispute"),
    path("<int:pk>/evidence/<int:evidence_pk>/", claims.OutletClaimEvidenceView.as_view(), name="claim-evidence"),
]
