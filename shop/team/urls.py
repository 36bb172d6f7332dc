from django.urls import path

from . import views
from .activity_views import ActivityCsvView, ActivityView

app_name = "team"

urlpatterns = [
    path("", views.MerchantTeamView.as_view(), name="members"),
    path("add/", views.MerchantTeamAddView.as_view(), name="member-add"),
    path("<int:pk>/sets/", views.MerchantTeamSetsView.as_view(), name="member-sets"),
    path("<int:pk>/deactivate/", views.MerchantTeamDeactivateView.as_view(), name="member-deactivate"),
    path("<int:pk>/reactivate/", views.MerchantTeamReactivateView.as_view(), name="member-reactivate"),
    path("<int:pk>/password/", views.MerchantTeamPasswordView.as_view(), name="member-password"),
    path("activity/", ActivityView.as_view(), name="activity"),
    path("activity/export.csv", ActivityCsvView.as_view(), name="activity-csv"),
]
