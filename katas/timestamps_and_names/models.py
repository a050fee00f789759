from django.db import models


class Organizations(models.Model):
    name = models.CharField(max_length=200)
    billing_email = models.EmailField()

    def __str__(self) -> str:
        return self.name


class Invoices(models.Model):
    class Status(models.TextChoices):
        OPEN = "open"
        PAID = "paid"
        VOID = "void"

    organization = models.ForeignKey(Organizations, on_delete=models.CASCADE, related_name="invoices")
    number = models.CharField(max_length=32, unique=True)
    amount_due_cents = models.PositiveIntegerField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)

    def __str__(self) -> str:
        return self.number
