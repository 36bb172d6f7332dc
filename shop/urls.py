from django.urls import path

from . import views

app_name = "shop"

urlpatterns = [
    path("", views.OrderListView.as_view(), name="order-list"),
    path("<str:order_no>/", views.OrderDetailView.as_view(), name="order-detail"),
]
