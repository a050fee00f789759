from django.db import models


class Organization(models.Model):
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


class Subscription(models.Model):
    """One team's subscription: an organization may run several, each billed to its own cost centre."""

    class Plan(models.TextChoices):
        TEAM = "team"
        BUSINESS = "business"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="subscriptions")
    name = models.CharField(max_length=100)
    plan = models.CharField(max_length=16, choices=Plan.choices, default=Plan.TEAM)
    seats = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.seats} seats)"
