"""The courier outlet portal (namespace `outlet`): every page outlet staff see, from every app.

The portal spans layers (partnerships and service orders are interception's, statements and claims
settlement's), so its URL list lives here, above every app: no app has to name a higher one.
"""

from django.urls import path

from interception import views as interception_views
from interception.views import outlet as interception_outlet
from settlement.claims import views as claims
from settlement.statements import views as statements
from shop.team import views as team

app_name = "outlet"

urlpatterns = [
    path("", interception_views.OutletPortalView.as_view(), name="portal"),
    # interception: partnership applications, service orders
    path(
        "partnerships/<int:pk>/",
        interception_outlet.OutletPartnershipDetailView.as_view(),
        name="partnership-detail",
    ),
    path(
        "partnerships/<int:pk>/approve/",
        interception_outlet.OutletPartnershipApproveView.as_view(),
        name="partnership-approve",
    ),
    path(
        "partnerships/<int:pk>/reject/",
        interception_outlet.OutletPartnershipRejectView.as_view(),
        name="partnership-reject",
    ),
    path("service-orders/", interception_outlet.OutletServiceOrderListView.as_view(), name="service-orders"),
    path(
        "service-orders/export.csv",
        interception_outlet.OutletServiceOrderCsvView.as_view(),
        name="service-orders-csv",
    ),
    # the outlet's staff (its manager only)
    path("team/", team.OutletTeamView.as_view(), name="team"),
    path("team/add/", team.OutletTeamAddView.as_view(), name="team-add"),
    path("team/<int:pk>/sets/", team.OutletTeamSetsView.as_view(), name="team-sets"),
    path("team/<int:pk>/deactivate/", team.OutletTeamDeactivateView.as_view(), name="team-deactivate"),
    path("team/<int:pk>/reactivate/", team.OutletTeamReactivateView.as_view(), name="team-reactivate"),
    path("team/<int:pk>/password/", team.OutletTeamPasswordView.as_view(), name="team-password"),
    # settlement: claims to answer, statements to confirm or dispute
    path("claims/", claims.OutletClaimListView.as_view(), name="claims"),
    path("claims/<int:pk>/", claims.OutletClaimDetailView.as_view(), name="claim-detail"),
    path("claims/<int:pk>/accept/", claims.OutletClaimAcceptView.as_view(), name="claim-accept"),
    path("claims/<int:pk>/dispute/", claims.OutletClaimDisputeView.as_view(), name="claim-dispute"),
    path(
        "claims/<int:pk>/evidence/<int:evidence_pk>/",
        claims.OutletClaimEvidenceView.as_view(),
        name="claim-evidence",
    ),
    path("statements/", statements.OutletStatementListView.as_view(), name="statements"),
    path("statements/<int:pk>/", statements.OutletStatementDetailView.as_view(), name="statement-detail"),
    path("statements/<int:pk>/confirm/", statements.OutletStatementConfirmView.as_view(), name="statement-confirm"),
    path("statements/<int:pk>/dispute/", statements.OutletStatementDisputeView.as_view(), name="statement-dispute"),
    path("statements/<int:pk>/lines.csv", statements.OutletStatementCsvView.as_view(), name="statement-csv"),
    path("statements/<int:pk>/lines.xlsx", statements.OutletStatementXlsxView.as_view(), name="statement-xlsx"),
]
