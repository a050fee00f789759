from datetime import datetime

from django.db import models


class Organization(models.Model):
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


class BillingPeriod(models.Model):
    """A month of billing: its draft invoices are finalized together when finance closes it."""

    class Status(models.TextChoices):
        OPEN = "open"
        CLOSED = "closed"

    starts_on = models.DateField(unique=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.starts_on:%B %Y}"

    def close(self, at: datetime) -> None:
        self.status = self.Status.CLOSED
        self.closed_at = at


class Invoice(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        OPEN = "open"

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="invoices")
    billing_period = models.ForeignKey(BillingPeriod, on_delete=models.PROTECT, related_name="invoices")
    number = models.CharField(max_length=32, unique=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)
    total_cents = models.PositiveIntegerField(default=0)
    finalized_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.number

    def finalize(self, total_cents: int, at: datetime) -> None:
        """Freeze the total and open the invoice for payment."""
        self.status = self.Status.OPEN
        self.total_cents = total_cents
        self.finalized_at = at


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    description = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField()
    unit_price_cents = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)


class LedgerEntry(models.Model):
    """A booking in the general ledger. Entries are never edited (a correction is a new entry), so
    they have no `updated_at`: a justified exception to DJ-3."""

    class Kind(models.TextChoices):
        RECEIVABLE = "receivable"

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="ledger_entries")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    amount_cents = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["invoice", "kind"], name="on_commit_events_one_entry_per_kind"),
        ]
