from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from interception.callbacks import carrier_callback
from shop import views as shop_views
from shop.platform_events.views import platform_events

admin.site.site_header = _("After-sales back office — platform operations")
admin.site.site_title = _("After-sales back office")

urlpatterns = [
    path("", shop_views.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/no-role/", shop_views.NoRoleView.as_view(), name="no-role"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("orders/", include("shop.urls")),
    path("aftersales/", include("aftersales.urls")),
    path("interception/", include("interception.urls")),
    path("settlement/", include("settlement.urls")),
    path("outlet/", include("config.outlet_urls")),
    path("open-api/", include("api.page_urls")),
    path("team/", include("shop.team.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("api.urls")),
    path("api/platform/events", platform_events, name="platform-events"),
    path("api/carrier/callback", carrier_callback, name="carrier-callback"),
]

# Uploaded files (evidence, exports) are never served from MEDIA_URL, even in development: only
# through views that check the viewer's shop.
