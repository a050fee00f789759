from django.db import models


class Organization(models.Model):
    name = models.CharField(max_length=200)
    billing_email = models.EmailField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


class Subscription(models.Model):
    """Our copy of a subscription kept by the billing provider, updated from the provider's messages."""

    class Plan(models.TextChoices):
        STARTER = "starter"
        TEAM = "team"
        BUSINESS = "business"

    class Status(models.TextChoices):
        ACTIVE = "active"
        PAST_DUE = "past_due"
        CANCELED = "canceled"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="subscriptions")
    provider_ref = models.CharField(max_length=64, unique=True)
    plan = models.CharField(max_length=16, choices=Plan.choices)
    seats = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.provider_ref} ({self.plan}, {self.seats} seats)"


class ProcessedMessage(models.Model):
    """A queue message we have applied: a redelivery finds its ID here and is skipped."""

    message_id = models.CharField(max_length=128, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
