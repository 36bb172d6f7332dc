from django.urls import path

from . import views

app_name = "interception"

urlpatterns = [
    path("", views.InterceptionHomeView.as_view(), name="home"),
]
