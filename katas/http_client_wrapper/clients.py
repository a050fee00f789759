"""Clients of the tax-rate service and of the exchange-rate API."""

from decimal import Decimal
from typing import Protocol

import httpx

from .http import ProviderError, build_http_client

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

    def __init__(self, *, api_key: str, base_url: str = TAX_SERVICE_URL, timeout: float | None = None) -> None:
        self._base_url = base_url
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._timeout = timeout

    def rate_for(self, country: str) -> Decimal:
        response = self._request("GET", f"/v1/rates/{country}")
        return Decimal(response.json()["standard_rate"])

    def report_sale(self, *, invoice_number: str, country: str, net_cents: int, vat_cents: int) -> str:
        payload = {"invoice": invoice_number, "country": country, "net_cents": net_cents, "vat_cents": vat_cents}
        response = self._request("POST", "/v1/sales", json=payload)
        return str(response.json()["id"])

    def _request(self, method: str, path: str, *, json: object = None) -> httpx.Response:
        # the tax service is flaky at month end: give it three tries
        for attempt in range(1, 4):
            try:
                response = httpx.request(
                    method, self._base_url + path, headers=self._headers, json=json, timeout=self._timeout
                )
                response.raise_for_status()
            except httpx.HTTPError as error:
                if attempt == 3:
                    raise ProviderError(f"tax service: {method} {path} failed: {error}") from error
            else:
                return response
        raise AssertionError("unreachable: the last attempt returns or raises")


class ExchangeRateClient:
    """The exchange-rate API: today's rates between currencies."""

    def __init__(self, *, api_key: str, base_url: str = EXCHANGE_RATE_API_URL) -> None:
        self._http = build_http_client(base_url, headers={"Authorization": f"Bearer {api_key}"})

    def rate(self, *, source: str, target: str) -> Decimal:
        try:
            response = self._http.get("/v2/latest", params={"base": source, "symbols": target})
            response.raise_for_status()
        except httpx.HTTPError as error:
            raise ProviderError(f"exchange-rate API: GET /v2/latest failed: {error}") from error
        return Decimal(response.json()["rates"][target])
