"""The settlement app's models, defined in its sub-packages: statements (with reconciliation) and claims.

Django finds an app's models through this module; the tables and migrations are the app's, whichever
sub-package a model is written in.
"""

from .claims.models import Claim, ClaimEvidence, ClaimLog
from .statements.models import Reconciliation, ReconciliationRow, Statement, StatementLine, StatementLog

__all__ = [
    "Claim",
    "ClaimEvidence",
    "ClaimLog",
    "Reconciliation",
    "ReconciliationRow",
    "Statement",
    "StatementLine",
    "StatementLog",
]
