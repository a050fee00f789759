from decimal import ROUND_HALF_UP, Decimal

from django.db import models


class Customer(models.Model):
    name = models.CharField(max_length=200)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2, e.g. DE")
    currency = models.CharField(max_length=3, help_text="ISO 4217: the currency the customer pays in, e.g. USD")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


class Invoice(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        ISSUED = "issued"

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="invoices")
    number = models.CharField(max_length=32, unique=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)
    net_cents = models.PositiveIntegerField(help_text="in euros: our prices are set in EUR")
    vat_rate = models.DecimalField(max_digits=5, decimal_places=4, null=True, blank=True)
    vat_cents = models.PositiveIntegerField(default=0, help_text="in euros; set when the invoice is issued")
    exchange_rate = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    total_cents = models.PositiveIntegerField(default=0, help_text="in the customer's currency; set when issued")
    tax_report_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.number

    def issue(self, *, vat_rate: Decimal, exchange_rate: Decimal) -> None:
        """Fix the VAT and the total in the customer's currency, and mark the invoice issued."""
        vat = Decimal(self.net_cents) * vat_rate
        total = (Decimal(self.net_cents) + vat) * exchange_rate
        self.vat_rate = vat_rate
        self.vat_cents = int(vat.quantize(Decimal(1), rounding=ROUND_HALF_UP))
        self.exchange_rate = exchange_rate
        self.total_cents = int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))
        self.status = self.Status.ISSUED
