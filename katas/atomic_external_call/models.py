import uuid

from django.db import models


class Customer(models.Model):
    name = models.CharField(max_length=200)
    email = models.EmailField()
    provider_customer_id = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)


class Invoice(models.Model):
    class Status(models.TextChoices):
        OPEN = "open"
        PAID = "paid"

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="invoices")
    number = models.CharField(max_length=32, unique=True)
    amount_due_cents = models.PositiveIntegerField()
    currency = models.CharField(max_length=3, default="EUR")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    provider_charge_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def mark_paid(self, charge_id: str) -> None:
        self.status = self.Status.PAID
        self.provider_charge_id = charge_id


class Payment(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    provider_charge_id = models.CharField(max_length=64, unique=True)
    amount_cents = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)


def new_idempotency_key() -> str:
    return f"attempt-{uuid.uuid4().hex}"


class ChargeAttempt(models.Model):
    """One attempt to collect an invoice, and the idempotency key the provider knows it by.

    The key belongs to the attempt, not to the invoice: retrying the same attempt (after a crash or a
    timeout) reuses it and cannot charge twice, while a new attempt after a decline gets a new key,
    since the provider would answer an old key with its first result, the decline.
    """

    class Outcome(models.TextChoices):
        PENDING = "pending"
        CHARGED = "charged"
        DECLINED = "declined"
        # the customer was charged, but the invoice had been paid meanwhile: to be refunded
        UNAPPLIED = "unapplied"

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="charge_attempts")
    idempotency_key = models.CharField(max_length=64, unique=True, default=new_idempotency_key)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.PENDING)
    provider_charge_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # at most one attempt in flight per invoice: concurrent collections share its key
            models.UniqueConstraint(
                fields=["invoice"],
                condition=models.Q(outcome="pending"),
                name="atomic_external_call_one_pending_attempt",
            ),
        ]

    def record(self, outcome: "ChargeAttempt.Outcome", charge_id: str = "") -> None:
        self.outcome = outcome
        self.provider_charge_id = charge_id
