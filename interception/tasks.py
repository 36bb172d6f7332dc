"""django-q2 entry points for interception (ids only; each re-reads its rows)."""

from . import services


def run_service_order(service_order_id: int) -> str:
    return services.run_service_order(service_order_id)
