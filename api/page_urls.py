"""/open-api/: the owner's API page (tokens, webhook endpoints, deliveries)."""

from django.urls import path

from . import views

app_name = "api"

urlpatterns = [
    path("", views.ApiPageView.as_view(), name="home"),
    path("tokens/new", views.TokenCreateView.as_view(), name="token-create"),
    path("tokens/<int:pk>/revoke", views.TokenRevokeView.as_view(), name="token-revoke"),
    path("webhooks/new", views.EndpointCreateView.as_view(), name="endpoint-create"),
    path("webhooks/<int:pk>/delete", views.EndpointDeleteView.as_view(), name="endpoint-delete"),
    path("webhooks/<int:pk>/enable", views.EndpointEnableView.as_view(), name="endpoint-enable"),
    path("deliveries/<int:pk>/resend", views.DeliveryResendView.as_view(), name="delivery-resend"),
]
