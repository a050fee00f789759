"""Clients of the tax-rate service and of the exchange-rate API."""

from decimal import Decimal
from typing import Protocol

from .http import ProviderHttp

# in production both come from settings; the keys from the secret store
TAX_SERVICE_URL = "https://tax.example"
EXCHANGE_RATE_API_URL = "https://fx.example"


class TaxRates(Protocol):
    def rate_for(self, country: str) -> Decimal:
        """The standard VAT rate of a country, e.g. Decimal("0.19") for DE."""
        ...

    def report_sale(self, *, invoice_number: str, country: str, net_cents: int, vat_cents: int) -> str:
        """Report an issued invoice to the tax service; returns the report's ID."""
        ...


class ExchangeRates(Protocol):
    def rate(self, *, source: str, target: str) -> Decimal:
        """How many units of `target` one unit of `source` buys today."""
        ...


class TaxServiceClient:
    """The tax-rate service: VAT rates per country, and the sales we must report to it."""

    def __init__(self, *, api_key: str, base_url: str = TAX_SERVICE_URL) -> None:
        self._http = ProviderHttp("tax service", base_url, headers={"Authorization": f"Bearer {api_key}"})

    def rate_for(self, country: str) -> Decimal:
        response = self._http.get(f"/v1/rates/{country}")
        return Decimal(response.json()["standard_rate"])

    def report_sale(self, *, invoice_number: str, country: str, net_cents: int, vat_cents: int) -> str:
        # The tax service takes no idempotency key, so this POST is sent once: if its answer is lost,
        # the sale may or may not be recorded, and the nightly reconciliation job finds out which.
        payload = {"invoice": invoice_number, "country": country, "net_cents": net_cents, "vat_cents": vat_cents}
        response = self._http.post("/v1/sales", json=payload)
        return str(response.json()["id"])


class ExchangeRateClient:
    """The exchange-rate API: today's rates between currencies."""

    def __init__(self, *, api_key: str, base_url: str = EXCHANGE_RATE_API_URL) -> None:
        self._http = ProviderHttp("exchange-rate API", base_url, headers={"Authorization": f"Bearer {api_key}"})

    def rate(self, *, source: str, target: str) -> Decimal:
        response = self._http.get("/v2/latest", params={"base": source, "symbols": target})
        return Decimal(response.json()["rates"][target])
