"""Interception pages: one module per area. Existing URL configs import the views from here."""

from .home import InterceptionHomeView
from .outlet import OutletPortalView

__all__ = ["InterceptionHomeView", "OutletPortalView"]
