"""Interception's writes, by stage: launch (preview and create), carrier (the task's calls), results
(a carrier's answer applied), sweep (service orders stuck without a result), alerts (a carrier refusing
our configuration), partnerships (offline settlement) and the assistant rule's settings.

`from interception import services` and `services.launch_interceptions(...)` keep working: the
names callers use are re-exported here.
"""

from .alerts import close_carrier_alert, open_carrier_alert
from .assistant import open_assistant_rule, save_assistant_rule
from .carrier import CARRIER_RETRY_DELAYS, run_service_order, run_service_orders
from .launch import (
    LAUNCH_CHUNK_SIZE,
    Candidate,
    Launched,
    add_warnings,
    candidates_for,
    create_batch,
    launch_interceptions,
    launch_with_warnings,
    retry_failed,
)
from .partnerships import apply_for_partnerships, approve_partnership, end_partnership, reject_partnership
from .preview import Preview, WarningGroup, preview_launch, preview_of
from .results import CARRIER_RESULTS, RESULT_STATUSES, apply_result
from .sweep import sweep_stuck_service_orders

__all__ = [
    "CARRIER_RESULTS",
    "CARRIER_RETRY_DELAYS",
    "LAUNCH_CHUNK_SIZE",
    "RESULT_STATUSES",
    "Candidate",
    "Launched",
    "Preview",
    "WarningGroup",
    "add_warnings",
    "apply_for_partnerships",
    "apply_result",
    "approve_partnership",
    "candidates_for",
    "close_carrier_alert",
    "create_batch",
    "end_partnership",
    "launch_interceptions",
    "launch_with_warnings",
    "open_assistant_rule",
    "open_carrier_alert",
    "preview_launch",
    "preview_of",
    "reject_partnership",
    "retry_failed",
    "run_service_order",
    "run_service_orders",
    "save_assistant_rule",
    "sweep_stuck_service_orders",
]
