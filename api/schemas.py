"""Pydantic schemas of the API: what the OpenAPI document shows and what requests are checked against."""

from typing import Annotated, Literal

from ninja import Schema
from pydantic import AfterValidator, Field, StringConstraints

from aftersales.models import AfterSale


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
Money = Annotated[str, StringConstraints(pattern=r"^\d{1,10}\.\d{2}$")]
Time = str
Flag = Literal["", "grey", "purple", "blue", "green", "yellow", "red"]
ReasonCode = Literal[
    "goods_signed", "not_as_claimed", "return_not_received", "return_damaged", "outside_policy", "other"
]
Version = Annotated[int, Field(ge=1, le=2_147_483_647)]

assert set(ReasonCode.__args__) == set(AfterSale.RejectReason.values)  # noqa: S101 - one list of reasons


# --- errors ----------------------------------------------------------------------------------------
class ErrorBody(Schema):
    code: str
    message: str
    field: str | None = None


class Error(Schema):
    error: ErrorBody


# --- objects ---------------------------------------------------------------------------------------
class Refund(Schema):
    id: int
    order_no: str
    line_no: str
    after_sale_no: str | None
    kind: Literal["refund_only", "return_refund", "price_protection", "small_payment"]
    amount: Money
    actor: str
    reason: str
    at: Time


class Buyer(Schema):
    id: str
    nickname: str


class Parcel(Schema):
    tracking_no: str
    courier: str
    status: str


class AfterSaleOut(Schema):
    after_sale_no: str
    order_no: str
    line_no: str
    type: str
    status: str
    reason: str
    note: str
    amount: Money
    refunded_amount: Money
    sequence: int
    multi_refund: bool
    deadline: Time | None
    flag: Flag
    remark: str
    version: int
    created_at: Time
    updated_at: Time
    buyer: Buyer
    parcel: Parcel | None
    refunds: list[Refund]


class AfterSalePage(Schema):
    data: list[AfterSaleOut]
    next_cursor: str
    has_more: bool


class ServiceOrderOut(Schema):
    service_order_no: str
    after_sale_no: str
    order_no: str
    tracking_no: str
    courier: str
    outlet: str
    mode: Literal["online", "offline"]
    fee: Money
    status: Literal["submitted", "processing", "succeeded", "failed", "returning", "returned", "return_failed"]
    failure_reason: str
    created_at: Time
    finished_at: Time | None
    updated_at: Time


class ServiceOrderPage(Schema):
    data: list[ServiceOrderOut]
    next_cursor: str
    has_more: bool


class OrderLineRefunds(Schema):
    line_no: str
    paid: Money
    refunded: Money
    refundable: Money


class OrderRefunds(Schema):
    order_no: str
    paid: Money
    refunded: Money
    refundable: Money
    lines: list[OrderLineRefunds]
    refunds: list[Refund]


class StatementOut(Schema):
    id: int
    outlet: str
    month: str
    status: str
    total: Money
    lines: int


class StatementList(Schema):
    data: list[StatementOut]


class StatementLineOut(Schema):
    service_order_no: str
    tracking_no: str
    fee: Money
    succeeded_at: Time


class StatementLinePage(Schema):
    data: list[StatementLineOut]
    next_cursor: str
    has_more: bool


# --- requests --------------------------------------------------------------------------------------
class Evidence(Schema):
    filename: Annotated[Text, StringConstraints(min_length=1, max_length=200)]
    content_base64: Annotated[str, StringConstraints(min_length=1)]


class ActionIn(Schema):
    action: Literal["agree_refund", "agree_return", "confirm_receipt", "reject"]
    version: Version
    reason_code: ReasonCode | None = None
    note: Annotated[Text, StringConstraints(max_length=500)] = ""
    evidence: Annotated[list[Evidence], Field(max_length=5)] = []


class PatchIn(Schema):
    flag: Flag | None = None
    remark: Annotated[Text, StringConstraints(max_length=500)] | None = None
    version: Version | None = None


class SmallPaymentIn(Schema):
    amount: Money
    note: Annotated[Text, StringConstraints(max_length=200)] = ""


WarningCode = Literal["large_amount", "abuse", "already_intercepted", "precheck_refused"]
LeavableWarningCode = Literal["large_amount", "abuse", "already_intercepted"]


class InterceptionIn(Schema):
    after_sale_nos: (
        Annotated[
            list[Annotated[Text, StringConstraints(min_length=1, max_length=64)]], Field(min_length=1, max_length=1000)
        ]
        | None
    ) = None
    tracking_nos: (
        Annotated[
            list[Annotated[Text, StringConstraints(min_length=1, max_length=64)]], Field(min_length=1, max_length=1000)
        ]
        | None
    ) = None
    # Warning codes whose after-sales are not intercepted (optional; the answer's `warnings` lists them).
    leave_out: Annotated[list[LeavableWarningCode], Field(max_length=10)] | None = None


class LaunchWarningOut(Schema):
    code: WarningCode
    count: int
    after_sale_nos: list[str]
    left_out: bool  # true: these were not intercepted (asked in `leave_out`, or refused: see `refused`)
    message: str


class Refused(Schema):
    after_sale_no: str | None = None
    tracking_no: str | None = None
    code: Literal["not_interceptable", "not_found"]
    message: str


class InterceptionOut(Schema):
    service_orders: list[ServiceOrderOut]
    refused: list[Refused]
    warnings: list[LaunchWarningOut] = []


class WebhookEndpointIn(Schema):
    url: Annotated[Text, StringConstraints(min_length=1, max_length=500)]
    events: Annotated[
        list[Literal["after_sale.created", "after_sale.updated", "refund.created", "service_order.updated"]],
        Field(min_length=1),
    ]


class WebhookEndpointOut(Schema):
    id: int
    url: str
    events: list[str]
    active: bool
    created_at: Time


class WebhookEndpointCreated(Schema):
    id: int
    url: str
    events: list[str]
    secret: str


class WebhookEndpointList(Schema):
    data: list[WebhookEndpointOut]
