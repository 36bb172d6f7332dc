from django.urls import path

from .views import actions, bulk, detail, metrics, workbench

app_name = "aftersales"

urlpatterns = [
    path("", workbench.WorkbenchView.as_view(), name="workbench"),
    path("metrics/", metrics.ServiceMetricsView.as_view(), name="metrics"),
    path("quick-counts.json", workbench.QuickViewCountsView.as_view(), name="quick-counts"),
    path("bulk-flag/", workbench.BulkFlagView.as_view(), name="bulk-flag"),
    path("bulk-reject-signed/preview/", bulk.BulkRejectSignedPreviewView.as_view(), name="bulk-reject-signed-preview"),
    path("bulk-reject-signed/", bulk.BulkRejectSignedStartView.as_view(), name="bulk-reject-signed"),
    path(
        "bulk-refund-returned/preview/",
        bulk.BulkRefundReturnedPreviewView.as_view(),
        name="bulk-refund-returned-preview",
    ),
    path("bulk-refund-returned/", bulk.BulkRefundReturnedStartView.as_view(), name="bulk-refund-returned"),
    path("bulk/<int:pk>/", bulk.BulkJobView.as_view(), name="bulk-job"),
    path("export.csv", workbench.WorkbenchCsvView.as_view(), name="export-csv"),
    path("exports/xlsx/", workbench.ExportStartView.as_view(), name="export-start"),
    path("exports/<int:pk>/", workbench.ExportDetailView.as_view(), name="export-detail"),
    path("exports/<int:pk>/download/", workbench.ExportDownloadView.as_view(), name="export-download"),
    # One after-sale: keep these last, `<after_sale_no>/` would swallow fixed paths such as "export/".
    path("<str:after_sale_no>/", detail.AfterSaleDetailView.as_view(), name="after-sale-detail"),
    path("<str:after_sale_no>/timeline.png", bulk.TimelineImageView.as_view(), name="timeline-image"),
    path("<str:after_sale_no>/evidence/<int:pk>/", detail.EvidenceImageView.as_view(), name="evidence"),
    path("<str:after_sale_no>/agree-refund/", actions.AfterSaleAgreeRefundView.as_view(), name="agree-refund"),
    path("<str:after_sale_no>/agree-return/", actions.AfterSaleAgreeReturnView.as_view(), name="agree-return"),
    path("<str:after_sale_no>/confirm-receipt/", actions.AfterSaleConfirmReceiptView.as_view(), name="confirm-receipt"),
    path("<str:after_sale_no>/reject/", actions.AfterSaleRejectView.as_view(), name="reject"),
    path("<str:after_sale_no>/small-payment/", actions.AfterSaleSmallPaymentView.as_view(), name="small-payment"),
    path("<str:after_sale_no>/flag/", actions.AfterSaleFlagView.as_view(), name="flag"),
    path("<str:after_sale_no>/send-card/", actions.AfterSaleSendCardView.as_view(), name="send-card"),
]
