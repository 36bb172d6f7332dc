from django.urls import path

from . import views

app_name = "aftersales"

urlpatterns = [
    path("", views.WorkbenchView.as_view(), name="workbench"),
]
