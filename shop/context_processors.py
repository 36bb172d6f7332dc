"""What the viewer may use, for every template: `can.<set>` and `need.<set>` (the hover reason)."""

from . import permissions


class _Can:
    def __init__(self, user):
        self._user = user

    def __getattr__(self, name):
        if name not in permissions.REASONS:
            raise AttributeError(name)
        return permissions.has(self._user, name)


class _Need:
    def __init__(self, user):
        self._user = user

    def __getattr__(self, name):
        if name not in permissions.REASONS:
            raise AttributeError(name)
        return permissions.blocker(self._user, name) or ""


def staff_permissions(request):
    # Lazy: nothing is read until a template asks, then once per request (cached on the user).
    user = getattr(request, "user", None)
    return {"can": _Can(user), "need": _Need(user)}
