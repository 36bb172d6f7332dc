from django.urls import path

from . import views
from .views import assistant, launch, partnerships, service_orders

app_name = "interception"

urlpatterns = [
    path("", views.InterceptionHomeView.as_view(), name="home"),
    path("after-sales/<str:after_sale_no>/", launch.InterceptView.as_view(), name="intercept"),
    path("card/<str:after_sale_no>/", launch.ImCardView.as_view(), name="im-card"),
    path("launch/", launch.LaunchView.as_view(), name="launch"),
    path("bulk/preview/", launch.BulkPreviewView.as_view(), name="bulk-preview"),
    path("paste/", launch.PasteView.as_view(), name="paste"),
    path("batches/<int:pk>/", launch.BatchView.as_view(), name="batch"),
    path("batches/<int:pk>/status.json", launch.BatchStatusView.as_view(), name="batch-status"),
    path("batches/<int:pk>/retry/", launch.BatchRetryView.as_view(), name="batch-retry"),
    path("service-orders/", service_orders.ServiceOrderListView.as_view(), name="service-orders"),
    path("service-orders/export.csv", service_orders.ServiceOrderCsvView.as_view(), name="service-orders-csv"),
    path("service-orders/export.xlsx", service_orders.ServiceOrderXlsxView.as_view(), name="service-orders-xlsx"),
    path("assistant/", assistant.AssistantRuleView.as_view(), name="assistant"),
    path("partnerships/", partnerships.PartnershipListView.as_view(), name="partnerships"),
    path("partnerships/apply/", partnerships.PartnershipApplyView.as_view(), name="partnership-apply"),
    path("partnerships/<int:pk>/", partnerships.PartnershipDetailView.as_view(), name="partnership-detail"),
    path("partnerships/<int:pk>/end/", partnerships.PartnershipEndView.as_view(), name="partnership-end"),
]
