from django.db import transaction

from .models import Subscription


class SeatMoveError(Exception):
    """The move is not allowed; nothing was changed."""


class NotEnoughSeatsError(SeatMoveError):
    """The source subscription has fewer seats than the move asks for."""


def move_seats(*, source_id: int, target_id: int, seats: int) -> None:
    """Move `seats` seats from one subscription to another subscription of the same organization.

    The organization keeps paying for the same number of seats; only the teams' shares change.
    """
    if seats <= 0:
        raise SeatMoveError(f"A move needs a positive number of seats, not {seats}.")
    if source_id == target_id:
        raise SeatMoveError("The source and the target are the same subscription.")

    source = Subscription.objects.get(pk=source_id)
    target = Subscription.objects.get(pk=target_id)
    if source.organization_id != target.organization_id:
        raise SeatMoveError("Seats only move between subscriptions of one organization.")
    if source.seats < seats:
        raise NotEnoughSeatsError(f"{source.name} has {source.seats} seats; it cannot give {seats}.")

    with transaction.atomic():
        source.seats -= seats
        source.save(update_fields=["seats", "updated_at"])
    target.seats += seats
    target.save(update_fields=["seats", "updated_at"])
