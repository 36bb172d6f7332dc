from django.urls import path

from .views import workbench

app_name = "aftersales"

urlpatterns = [
    path("", workbench.WorkbenchView.as_view(), name="workbench"),
]
