"""django-q2 entry points for interception (ids only; each re-reads its rows)."""

from . import services


def run_service_orders(service_order_ids: list[int]) -> dict[str, int]:
    return services.run_service_orders(service_order_ids)


def run_service_order(service_order_id: int) -> str:
    # Tasks queued before the chunks (one per service order) may still be waiting in the broker.
    return services.run_service_order(service_order_id)
