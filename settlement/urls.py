from django.urls import path

from . import views

app_name = "settlement"

urlpatterns = [
    path("", views.SettlementHomeView.as_view(), name="home"),
]
