"""The merchant's claim pages, in the `settlement` namespace (see settlement/urls.py).

The outlet portal's claim pages are listed with the rest of the portal in config/outlet_urls.py.
"""

from django.urls import path

from . import views

urlpatterns = [
    path("claims/", views.ClaimListView.as_view(), name="claims"),
    path("claims/new/<int:service_order_pk>/", views.ClaimNewView.as_view(), name="claim-new"),
    path("claims/<int:pk>/", views.ClaimDetailView.as_view(), name="claim-detail"),
    path("claims/<int:pk>/compensate/", views.ClaimCompensateView.as_view(), name="claim-compensate"),
    path("claims/<int:pk>/evidence/<int:evidence_pk>/", views.ClaimEvidenceView.as_view(), name="claim-evidence"),
    path("claim-tracker/", views.ClaimTrackerView.as_view(), name="claim-tracker"),
]
