from django.db import models


class Customer(models.Model):
    name = models.CharField(max_length=200)
    email = models.EmailField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


class Invoice(models.Model):
    class EmailStatus(models.TextChoices):
        NOT_SENT = "not_sent"
        SENT = "sent"
        SUPPRESSED = "suppressed"

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="invoices")
    number = models.CharField(max_length=32, unique=True)
    amount_due_cents = models.PositiveIntegerField()
    due_on = models.DateField()
    email_status = models.CharField(max_length=10, choices=EmailStatus.choices, default=EmailStatus.NOT_SENT)
    email_message_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.number

    def mark_emailed(self, message_id: str) -> None:
        self.email_status = self.EmailStatus.SENT
        self.email_message_id = message_id

    def mark_email_suppressed(self) -> None:
        self.email_status = self.EmailStatus.SUPPRESSED
