from decimal import Decimal

from .clients import ExchangeRates, TaxRates
from .models import Invoice

PRICE_CURRENCY = "EUR"  # our price list is in euros; customers pay in their own currency


class InvoiceNotDraftError(Exception):
    """Only a draft invoice can be issued."""


def issue_invoice(invoice_id: int, *, tax_rates: TaxRates, exchange_rates: ExchangeRates) -> Invoice:
    """Price a draft invoice with today's VAT and exchange rates, issue it, and report the sale.

    The sale is reported after the invoice is saved: if the report fails, the invoice stays issued
    with an empty `tax_report_id`, and the nightly reconciliation job reports it again.
    """
    invoice = Invoice.objects.select_related("customer").get(pk=invoice_id)
    if invoice.status != Invoice.Status.DRAFT:
        raise InvoiceNotDraftError(invoice.number)
    customer = invoice.customer

    if customer.currency == PRICE_CURRENCY:
        exchange_rate = Decimal(1)
    else:
        exchange_rate = exchange_rates.rate(source=PRICE_CURRENCY, target=customer.currency)
    invoice.issue(vat_rate=tax_rates.rate_for(customer.country), exchange_rate=exchange_rate)
    invoice.save()

    invoice.tax_report_id = tax_rates.report_sale(
        invoice_number=invoice.number,
        country=customer.country,
        net_cents=invoice.net_cents,
        vat_cents=invoice.vat_cents,
    )
    invoice.save(update_fields=["tax_report_id", "updated_at"])
    return invoice
