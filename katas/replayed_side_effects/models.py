from django.db import models


class Customer(models.Model):
    name = models.CharField(max_length=200)
    email = models.EmailField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)


class Invoice(models.Model):
    class Status(models.TextChoices):
        OPEN = "open"
        PAID = "paid"

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="invoices")
    number = models.CharField(max_length=32, unique=True)
    amount_due_cents = models.PositiveIntegerField()
    amount_paid_cents = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def record_payment(self, amount_cents: int) -> None:
        """Add a payment to the invoice; it is paid once the payments cover the amount due."""
        self.amount_paid_cents += amount_cents
        if self.amount_paid_cents >= self.amount_due_cents:
            self.status = self.Status.PAID


class Payment(models.Model):
    """A payment the provider made for an invoice; `provider_payment_id` is the provider's ID of it."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    provider_payment_id = models.CharField(max_length=64)
    amount_cents = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)


class ProcessedWebhookEvent(models.Model):
    """A provider event we have applied. Its unique event ID is what makes redeliveries harmless."""

    event_id = models.CharField(max_length=64, unique=True)
    # no updated_at, a justified exception to DJ-3: the record is written once and never updated
    created_at = models.DateTimeField(auto_now_add=True)
