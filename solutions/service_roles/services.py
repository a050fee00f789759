from django.core.exceptions import PermissionDenied
from django.db import transaction

from .models import Invoice, Member, Membership


class InvoiceNotFoundError(Exception):
    """There is no invoice with this ID that the member may see."""


class InvoiceNotVoidableError(Exception):
    """Only an open invoice can be voided."""


def void_invoice(invoice_id: int, *, member: Member) -> Invoice:
    """Void an open invoice, for an admin of the invoice's organization.

    To anyone outside the invoice's organization the invoice does not exist (InvoiceNotFoundError). A
    member of it who is not one of its admins may see the invoice, so it is no secret to them: they
    are refused with PermissionDenied (a 403), before anything is written. Every caller, the button,
    a bulk job or a command, gets both checks by calling this function.
    """
    with transaction.atomic():
        visible = Invoice.objects.filter(customer__organization__memberships__member=member)
        try:
            invoice = visible.select_for_update(of=("self",)).select_related("customer").get(pk=invoice_id)
        except Invoice.DoesNotExist:
            raise InvoiceNotFoundError(invoice_id) from None
        # the role in *this* invoice's organization: an admin elsewhere is a member here
        is_admin_here = Membership.objects.filter(
            member=member, organization_id=invoice.customer.organization_id, role=Membership.Role.ADMIN
        ).exists()
        if not is_admin_here:
            raise PermissionDenied("Only an admin of the organization may void its invoices.")
        if invoice.status != Invoice.Status.OPEN:
            raise InvoiceNotVoidableError(
                f"Invoice {invoice.number} is {invoice.status}; only an open one can be voided."
            )
        invoice.status = Invoice.Status.VOID
        invoice.voided_by = member
        invoice.save(update_fields=["status", "voided_by", "updated_at"])
    return invoice
