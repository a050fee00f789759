# factory_boy's declarations (Sequence, SubFactory, ...) have no type hints: PY-2's Any at a boundary.
# mypy: disable-error-code="no-untyped-call"
from django.db.models import Model
from factory.declarations import Sequence, SubFactory
from factory.django import DjangoModelFactory

from dojo import tenants
from service_roles.models import Customer, Invoice, Member, Membership, Organization


class OrganizationFactory(DjangoModelFactory[Organization]):
    class Meta:
        model = Organization

    # every organization of a grading has the same name, as unrelated companies often do ("Nordwind GmbH"
    # here and there): a role looked up by anything but the organization's key is then a role elsewhere
    name = "Nordwind GmbH"


class MemberFactory(DjangoModelFactory[Member]):
    class Meta:
        model = Member

    name = Sequence(lambda n: f"Member {n}")
    email = Sequence(lambda n: f"member{n}@portal.test")


class MembershipFactory(DjangoModelFactory[Membership]):
    class Meta:
        model = Membership

    member = SubFactory(MemberFactory)
    organization = SubFactory(OrganizationFactory)
    role = Membership.Role.MEMBER


class CustomerFactory(DjangoModelFactory[Customer]):
    class Meta:
        model = Customer

    organization = SubFactory(OrganizationFactory)
    name = Sequence(lambda n: f"Customer {n}")


class InvoiceFactory(DjangoModelFactory[Invoice]):
    class Meta:
        model = Invoice

    customer = SubFactory(CustomerFactory)
    number = Sequence(lambda n: f"INV-{n:05d}")
    amount_due_cents = 49_900


# Where each table's IDs start in a grading: far apart, so that an ID of one table is never an ID of
# another. A check that compares a membership's organization with a customer's ID, say, then finds
# nothing, as in production, instead of matching because every table counted from 1.
ID_STARTS: dict[type[Model], int] = {
    Organization: 1_000,
    Member: 20_000,
    Membership: 300_000,
    Customer: 4_000_000,
    Invoice: 50_000_000,
}


def start_ids_apart() -> None:
    """Make the next ID of each table the one `ID_STARTS` gives (or later), on SQLite and on PostgreSQL."""
    tenants.start_ids_apart(ID_STARTS)
