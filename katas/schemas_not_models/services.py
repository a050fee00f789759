from .models import Customer, Organization


class CustomerNotFoundError(Exception):
    """No customer with this id in the organization."""


def get_customer(organization_id: int, customer_id: int) -> Customer:
    try:
        return Customer.objects.get(organization_id=organization_id, pk=customer_id)
    except Customer.DoesNotExist:
        raise CustomerNotFoundError(f"Customer {customer_id} does not exist.") from None


def create_customer(organization_id: int, *, name: str, email: str, currency: str) -> Customer:
    """A new customer of the organization; an unknown organization raises Organization.DoesNotExist."""
    organization = Organization.objects.get(pk=organization_id)
    return Customer.objects.create(organization=organization, name=name, email=email, currency=currency)
