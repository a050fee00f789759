from datetime import datetime

from django.db import models, transaction

from .clients import EmailClient


class PlanChangeNotAllowedError(Exception):
    """The subscription cannot move to this plan now; the message says why."""


class Customer(models.Model):
    name = models.CharField(max_length=200)
    email = models.EmailField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


class Plan(models.Model):
    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    monthly_price_cents = models.PositiveIntegerField()
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


class Subscription(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        CANCELED = "canceled"

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="subscriptions")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    current_period_start = models.DateTimeField()
    current_period_end = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def change_plan(self, new_plan: "Plan", *, at: datetime, emails: EmailClient) -> int:
        """Move to a dearer plan now, invoice the prorated difference and tell the customer."""
        if self.status != self.Status.ACTIVE:
            raise PlanChangeNotAllowedError("Only an active subscription can change plans.")
        if new_plan.pk == self.plan_id:
            raise PlanChangeNotAllowedError(f"The subscription is already on the {new_plan.name} plan.")
        price_difference = new_plan.monthly_price_cents - self.plan.monthly_price_cents
        if price_difference < 0:
            raise PlanChangeNotAllowedError("A downgrade takes effect at renewal; it cannot be made mid-period.")

        prorated_charge = round(price_difference * self.fraction_of_period_left(at))
        with transaction.atomic():
            self.plan = new_plan
            self.save(update_fields=["plan", "updated_at"])
            if prorated_charge > 0:
                Invoice.objects.create(
                    subscription=self,
                    description=f"Upgrade to {new_plan.name}, prorated",
                    amount_cents=prorated_charge,
                )
        emails.send(
            to=self.customer.email,
            subject=f"Your plan is now {new_plan.name}",
            body=f"Your subscription has moved to the {new_plan.name} plan.",
        )
        return prorated_charge

    def fraction_of_period_left(self, at: datetime) -> float:
        """How much of the current billing period is still ahead, from 0 to 1."""
        period = (self.current_period_end - self.current_period_start).total_seconds()
        left = (self.current_period_end - max(at, self.current_period_start)).total_seconds()
        return min(max(left / period, 0.0), 1.0)


class Invoice(models.Model):
    class Status(models.TextChoices):
        OPEN = "open"
        PAID = "paid"

    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="invoices")
    description = models.CharField(max_length=200)
    amount_cents = models.PositiveIntegerField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
