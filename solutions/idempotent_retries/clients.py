"""The payment provider's client: charges, and the notes our support team reads on them."""

from typing import Protocol

from .http import ProviderHttp

PAYMENT_PROVIDER_URL = "https://api.payments.example"  # in production: from settings


class Payments(Protocol):
    def charge(self, *, amount_cents: int, currency: str, idempotency_key: str) -> str:
        """Charge the customer's card on file; returns the provider's charge ID."""
        ...

    def charge_status(self, charge_id: str) -> str:
        """The charge's status at the provider: "succeeded", "pending" or "failed"."""
        ...

    def add_note(self, *, charge_id: str, text: str) -> None:
        """Append a note to a charge (each call appends one more)."""
        ...


class PaymentProviderClient:
    """The payment provider's REST API. It honours Idempotency-Key on POST /v1/charges only."""

    def __init__(self, *, api_key: str, base_url: str = PAYMENT_PROVIDER_URL) -> None:
        self._http = ProviderHttp("payment provider", base_url, headers={"Authorization": f"Bearer {api_key}"})

    def charge(self, *, amount_cents: int, currency: str, idempotency_key: str) -> str:
        response = self._http.post(
            "/v1/charges",
            json={"amount_cents": amount_cents, "currency": currency},
            headers={"Idempotency-Key": idempotency_key},
        )
        return str(response.json()["id"])

    def charge_status(self, charge_id: str) -> str:
        return str(self._http.get(f"/v1/charges/{charge_id}").json()["status"])

    def add_note(self, *, charge_id: str, text: str) -> None:
        # no idempotency key here: the provider appends a note per request
        self._http.post(f"/v1/charges/{charge_id}/notes", json={"text": text})
