"""Payments: the list (by status, customer or link, with the list's totals), a payment's page (amounts, card, customer,
where it came from, its refunds) and Refund, which asks for confirmation first. Every refund
rule is the domain's (domain/payment_records.py), as in the API."""
from __future__ import annotations

from api.dashboard import forms, labels
from api.dashboard.auth import csrf_token
from api.dashboard.web import PREFIX, owned, page_query, pager, read_form, redirect, render
from domain import checkout_sessions, payment_links, payment_records, reports, subscriptions
from domain.db import utcnow
from domain.errors import Conflict, InvalidRequest
from domain.payments.states import PaymentStatus
from domain.processors import Processors
from runtime.settings import Settings

PAYMENTS = f"{PREFIX}/payments"
STATUSES = tuple(status.value for status in PaymentStatus)
NO_PROCESSOR = ("No processor takes this mode's payments, so none can be refunded: choose one under "
                "Settings → Processor.")


class PaymentList:
    dashboard = True

    def on_get(self, req, resp) -> None:
        uow, owner = req.context.uow, req.context.owner
        status = req.get_param("status") if req.get_param("status") in STATUSES else ""
        customer_id = (req.get_param("customer_id") or "")[:64]
        link_id = (req.get_param("payment_link_id") or "")[:64]
        filters = {name: value for name, value in (("status", status), ("customer_id", customer_id)) if value}
        query = page_query(req, filters)
        try:
            found = reports.payments_page(uow, owner, query, payment_link_id=link_id or None)
        except InvalidRequest:  # a cursor from the other mode, or made up
            return redirect(resp, PAYMENTS)
        customers = payment_records.customers_by_id(uow, owner, [p.customer_id for p in found.data])
        totals = reports.payment_totals(uow, owner, status=status or None, customer_id=customer_id or None,
                                        payment_link_id=link_id or None)
        render(req, resp, "payments.html", payments=found.data, customers=customers, status_filter=status,
               statuses=STATUSES, customer_id=customer_id, link_id=link_id, links=reports.link_choices(uow, owner),
               totals=totals, card_label=labels.card_label, section="payments",
               pages=pager(PAYMENTS, {"status": status, "customer_id": customer_id, "payment_link_id": link_id},
                           found, query))


def _page(req, resp, payment, processors: Processors, values=None, errors=None, status=200, refunded=None) -> None:
    """The payment's page; `values`/`errors`: the refund form as sent and what was wrong with it."""
    uow, owner = req.context.uow, req.context.owner
    refunds = payment_records.refunds_of(uow, [payment.id])[payment.id]
    left = payment_records.left_to_refund(payment, refunds)
    checkout = owned(checkout_sessions.get, req, payment.checkout_session_id) if payment.checkout_session_id \
        else None
    link = owned(payment_links.get, req, checkout.payment_link_id) if checkout else None
    invoice = owned(subscriptions.get_invoice, req, payment.invoice_id) if payment.invoice_id else None
    render(req, resp, "payment.html", status=status, payment=payment, refunds=refunds, left=left,
           customer=payment_records.customers_by_id(uow, owner, [payment.customer_id]).get(payment.customer_id),
           checkout=checkout, link=link, invoice=invoice, taking_payments=processors.for_processor(uow, owner, payment.processor) is not None,
           values=values or {"amount": forms.amount_text(left, payment.currency), "reason": "requested_by_customer"},
           errors=errors or {}, csrf_token=csrf_token(req), reasons=payment_records.REFUND_REASONS,
           reason_label=labels.reason_label, card_label=labels.card_label,
           refunded=next((r for r in refunds if r.id == refunded), None), no_processor=NO_PROCESSOR,
           section="payments")


class PaymentPage:
    dashboard = True

    def __init__(self, processors: Processors):
        self._processors = processors

    def on_get(self, req, resp, payment_id: str) -> None:
        _page(req, resp, owned(payment_records.get, req, payment_id), self._processors,
              refunded=(req.get_param("refunded") or "")[:64])


class PaymentRefund:
    """POST the form: a confirmation page ("Refund 12.50 USD to Ada?") with the exact amount; POST
    that (confirm=yes): the refund, through the mode's processor, then back to the payment."""

    dashboard = True

    def __init__(self, settings: Settings, processors: Processors, units):
        self._settings = settings
        self._processors = processors
        self._units = units

    def on_post(self, req, resp, payment_id: str) -> None:
        uow, owner = req.context.uow, req.context.owner
        payment = owned(payment_records.get, req, payment_id)
        form = read_form(req, self._settings.max_body_bytes)
        try:
            cmd = forms.refund_command(form, payment.currency)
            processor = self._processors.for_processor(uow, owner, payment.processor)  # refunded where it was paid
            if processor is None:
                raise Conflict(NO_PROCESSOR, code="no_processor")
            if form.get("confirm") != "yes":
                amount = payment_records.refund_preview(uow, owner, payment.id, cmd)
                return self._confirm(req, resp, payment, amount, cmd.reason)
            refund_id = payment_records.refund(self._units, owner, payment.id, cmd, processor, utcnow)
        except (InvalidRequest, Conflict) as error:
            refunds = payment_records.refunds_of(uow, [payment.id])[payment.id]
            left = payment_records.left_to_refund(payment, refunds)
            return _page(req, resp, payment, self._processors, form.values(),
                         forms.refund_errors(error, left, payment.currency), 400)
        redirect(resp, f"{PAYMENTS}/{payment.id}?refunded={refund_id}")

    def _confirm(self, req, resp, payment, amount: int, reason: str | None) -> None:
        customer = payment_records.customers_by_id(req.context.uow, req.context.owner,
                                                   [payment.customer_id]).get(payment.customer_id)
        render(req, resp, "refund_confirm.html", payment=payment, amount=amount,
               amount_text=forms.amount_text(amount, payment.currency), reason=reason or "",
               reason_label=labels.reason_label(reason), customer=labels.customer_label(customer),
               card=labels.card_label((payment.card or {}).get("brand"), (payment.card or {}).get("last4")),
               csrf_token=csrf_token(req), section="payments")
