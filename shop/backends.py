"""The authentication backend: Django's ModelBackend, reading the user's shop and outlet with the user."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class ShopModelBackend(ModelBackend):
    """Every merchant page reads `request.user.shop` and every outlet page `request.user.outlet`
    (shop.access): loaded with the user by the session's one query, not by a second one per request."""

    def get_user(self, user_id):
        user = get_user_model()._default_manager.select_related("shop", "outlet").filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None
