from django.urls import path

from . import views

app_name = "outlet"

urlpatterns = [
    path("", views.OutletPortalView.as_view(), name="portal"),
]
