"""Settlement views, one module per area: home, fee ledger, statements (merchant), outlet portal, claims."""

from .home import SettlementHomeView

__all__ = ["SettlementHomeView"]
