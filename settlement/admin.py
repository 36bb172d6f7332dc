"""The settlement admin, registered by its sub-packages (Django's autodiscovery looks for this module)."""

from .claims import admin as claims_admin
from .statements import admin as statements_admin

__all__ = ["claims_admin", "statements_admin"]
