"""A fake of Stripe's REST API at the HTTP boundary, served by pytest-httpserver.

The `stripe` library (and dj-stripe through it) talks to this server over real HTTP once `stripe.api_base` (or,
for the stack's processes, `STRIPE_API_BASE`) points at it. It keeps Stripe objects by id, answers retrieve, list,
create and update calls the way Stripe does (form-encoded requests, JSON answers, `resource_missing` errors), and
records every request so tests can check what was asked of Stripe. It also signs webhook payloads the way Stripe
does, so tests can deliver events to `/stripe/webhook/`.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from werkzeug import Request, Response

PREFIXES = {
    "customers": "cus",
    "subscriptions": "sub",
    "invoices": "in",
    "charges": "ch",
    "refunds": "re",
    "disputes": "dp",
    "prices": "price",
    "products": "prod",
    "checkout/sessions": "cs_test",
    "billing_portal/sessions": "bps",
    "events": "evt",
    "payment_intents": "pi",
}
OBJECT_NAMES = {
    "customers": "customer",
    "subscriptions": "subscription",
    "invoices": "invoice",
    "charges": "charge",
    "refunds": "refund",
    "disputes": "dispute",
    "prices": "price",
    "products": "product",
    "checkout/sessions": "checkout.session",
    "billing_portal/sessions": "billing_portal.session",
    "events": "event",
    "payment_intents": "payment_intent",
}
ACCOUNT = {
    "id": "acct_fakeodiadev0001",
    "object": "account",
    "business_profile": {"name": "ODIADEV-TTS", "url": None, "support_email": None},
    "business_type": "company",
    "charges_enabled": True,
    "country": "US",
    "created": 1700000000,
    "default_currency": "usd",
    "details_submitted": True,
    "email": "billing@odiadev.test",
    "metadata": {},
    "payouts_enabled": True,
    "settings": {"branding": {"icon": None, "logo": None}, "dashboard": {"display_name": "ODIADEV-TTS"}},
    "type": "standard",
}


def unflatten(pairs: list[tuple[str, str]]) -> dict:
    """Stripe's form encoding (`line_items[0][price]=x`, `expand[]=y`) back into nested dicts and lists."""
    root: dict = {}
    for key, value in pairs:
        head, _, rest = key.partition("[")
        parts = [head, *re.findall(r"\[([^\]]*)\]", "[" + rest)] if rest else [head]
        node = root
        for index, part in enumerate(parts):
            part = part or str(len(node))  # "[]" appends
            if index == len(parts) - 1:
                node[part] = value
            else:
                node = node.setdefault(part, {})
    return _lists(root)


def _lists(node):
    """Dicts keyed 0, 1, 2... (Stripe's encoding of arrays of objects) become lists."""
    if isinstance(node, dict):
        node = {key: _lists(value) for key, value in node.items()}
        if node and all(key.isdigit() for key in node):
            return [node[key] for key in sorted(node, key=int)]
    return node


@dataclass
class Recorded:
    method: str
    path: str
    params: dict


@dataclass
class FakeStripe:
    base_url: str
    objects: dict[str, dict] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    fail_next: int = 0  # answer the next N API calls with a 500, as Stripe does on a bad day
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- objects -------------------------------------------------------------------------------------------
    def new_id(self, prefix: str) -> str:
        return f"{prefix}_fake{next(self._ids):06d}"

    def put(self, obj: dict) -> dict:
        with self._lock:
            self.objects[obj["id"]] = obj
        return obj

    def get(self, object_id: str) -> dict:
        return self.objects[object_id]

    def update(self, object_id: str, **changes) -> dict:
        with self._lock:
            self.objects[object_id] = {**self.objects[object_id], **changes}
            return self.objects[object_id]

    def reset(self) -> None:
        with self._lock:
            self.objects.clear()
            self.requests.clear()
            self.fail_next = 0

    def calls(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path == path]

    # --- HTTP ----------------------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        path = request.path.removeprefix("/v1/")
        params = unflatten(list(parse_qsl(request.get_data(as_text=True), keep_blank_values=True)))
        if request.method == "GET":
            params = unflatten(list(request.args.items(multi=True)))
        self.requests.append(Recorded(request.method, path, params))
        if self.fail_next > 0:
            self.fail_next -= 1
            return _error(500, "api_error", "An error occurred with our connection to Stripe.")

        if path == "account" and request.method == "GET":  # the platform's own account (dj-stripe reads it)
            return _json(ACCOUNT)
        collection, object_id, action = _route(path)
        if collection is None:
            return _error(404, "invalid_request_error", f"Unrecognized request URL (GET: /v1/{path}).")
        if request.method == "GET" and object_id and action:  # sub-collections (a product's features...)
            return _json({"object": "list", "url": f"/v1/{path}", "has_more": False, "data": []})
        if request.method == "GET" and object_id:
            obj = self.objects.get(object_id)
            if obj is None or OBJECT_NAMES.get(collection) != obj.get("object"):
                return _missing(object_id)
            return _json(obj)
        if request.method == "GET":
            return _json(self._list(collection, params))
        if request.method == "POST" and object_id and not action:
            if object_id not in self.objects:
                return _missing(object_id)
            return _json(self.update(object_id, **_without(params, "expand")))
        if request.method == "POST" and not object_id:
            return _json(self._create(collection, params))
        return _error(404, "invalid_request_error", f"Unrecognized request URL ({request.method}: /v1/{path}).")

    def _list(self, collection: str, params: dict) -> dict:
        name = OBJECT_NAMES[collection]
        filters = {k: v for k, v in params.items() if k not in {"limit", "starting_after", "expand", "status"}}
        found = [
            obj
            for obj in self.objects.values()
            if obj.get("object") == name and all(str(obj.get(k)) == str(v) for k, v in filters.items())
        ]
        if params.get("status") not in (None, "all"):
            found = [obj for obj in found if obj.get("status") == params["status"]]
        return {"object": "list", "url": f"/v1/{collection}", "has_more": False, "data": found}

    def _create(self, collection: str, params: dict) -> dict:
        params = _without(params, "expand")
        object_id = self.new_id(PREFIXES.get(collection, "obj"))
        if collection == "customers":
            return self.put(customer(object_id, email=params.get("email", ""), metadata=params.get("metadata")))
        if collection == "checkout/sessions":
            return self.put(
                {
                    "id": object_id,
                    "object": "checkout.session",
                    "url": f"https://checkout.stripe.test/c/pay/{object_id}",
                    "status": "open",
                    "payment_status": "unpaid",
                    "livemode": False,
                    "created": int(time.time()),
                    "subscription": None,
                    "metadata": {},
                    **params,
                }
            )
        if collection == "billing_portal/sessions":
            return self.put(
                {
                    "id": object_id,
                    "object": "billing_portal.session",
                    "url": f"https://billing.stripe.test/p/session/{object_id}",
                    "livemode": False,
                    "created": int(time.time()),
                    **params,
                }
            )
        return self.put({"id": object_id, "object": OBJECT_NAMES[collection], "livemode": False, **params})

    # --- webhooks ------------------------------------------------------------------------------------------
    def event(self, event_type: str, obj: dict, *, created: int | None = None, event_id: str | None = None) -> dict:
        """An event as Stripe sends it: a snapshot of `obj` at the time (also kept, so it can be retrieved)."""
        return self.put(
            {
                "id": event_id or self.new_id("evt"),
                "object": "event",
                "api_version": "2024-12-18.acacia",
                "created": created or int(time.time()),
                "data": {"object": json.loads(json.dumps(obj))},
                "livemode": False,
                "pending_webhooks": 1,
                "request": {"id": None, "idempotency_key": None},
                "type": event_type,
            }
        )


def signature_header(payload: str, secret: str, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header Stripe would send with `payload`."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


# --- object builders (the fields dj-stripe reads; Stripe sends more) --------------------------------------------
def listing(data: list[dict], url: str = "") -> dict:
    """A list object, as Stripe embeds them (a charge's refunds, a subscription's items)."""
    return {"object": "list", "data": data, "has_more": False, "url": url}


def customer(object_id: str, *, email: str = "", metadata: dict | None = None) -> dict:
    return {
        "id": object_id,
        "object": "customer",
        "email": email,
        "name": None,
        "balance": 0,
        "created": int(time.time()),
        "currency": "usd",
        "default_source": None,
        "delinquent": False,
        "description": None,
        "discount": None,
        "invoice_prefix": object_id[-8:].upper(),
        "invoice_settings": {"default_payment_method": None, "custom_fields": None, "footer": None},
        "livemode": False,
        "metadata": metadata or {},
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
    }


def product(object_id: str, name: str) -> dict:
    return {
        "id": object_id,
        "object": "product",
        "active": True,
        "created": int(time.time()),
        "description": None,
        "images": [],
        "livemode": False,
        "metadata": {},
        "name": name,
        "type": "service",
        "updated": int(time.time()),
        "url": None,
    }


def price(object_id: str, *, product_id: str, amount: int, currency: str = "usd") -> dict:
    return {
        "id": object_id,
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "created": int(time.time()),
        "currency": currency,
        "livemode": False,
        "lookup_key": None,
        "metadata": {},
        "nickname": None,
        "product": product_id,
        "recurring": {"aggregate_usage": None, "interval": "month", "interval_count": 1, "usage_type": "licensed"},
        "tax_behavior": "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "recurring",
        "unit_amount": amount,
        "unit_amount_decimal": str(amount),
    }


def subscription(object_id: str, *, customer_id: str, price_obj: dict, status: str, created: int) -> dict:
    period_end = created + 30 * 24 * 3600
    return {
        "id": object_id,
        "object": "subscription",
        "billing_cycle_anchor": created,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": created if status == "canceled" else None,
        "collection_method": "charge_automatically",
        "created": created,
        "currency": price_obj["currency"],
        "current_period_end": period_end,
        "current_period_start": created,
        "customer": customer_id,
        "days_until_due": None,
        "default_payment_method": None,
        "discount": None,
        "ended_at": created if status == "canceled" else None,
        "items": {
            "object": "list",
            "data": [
                {
                    "id": f"si_{object_id}",
                    "object": "subscription_item",
                    "created": created,
                    "metadata": {},
                    "price": price_obj,
                    "quantity": 1,
                    "subscription": object_id,
                    "current_period_end": period_end,
                    "current_period_start": created,
                }
            ],
            "has_more": False,
        },
        "latest_invoice": None,
        "livemode": False,
        "metadata": {},
        "pending_setup_intent": None,
        "quantity": 1,
        "start_date": created,
        "status": status,
        "trial_end": None,
        "trial_start": None,
    }


def invoice(object_id: str, *, customer_id: str, subscription_id: str, amount: int, status: str) -> dict:
    now = int(time.time())
    return {
        "id": object_id,
        "object": "invoice",
        "account_country": "US",
        "amount_due": amount,
        "amount_paid": amount if status == "paid" else 0,
        "amount_remaining": 0 if status == "paid" else amount,
        "attempt_count": 1,
        "attempted": True,
        "auto_advance": False,
        "billing_reason": "subscription_create",
        "collection_method": "charge_automatically",
        "created": now,
        "currency": "usd",
        "customer": customer_id,
        "hosted_invoice_url": f"https://invoice.stripe.test/i/{object_id}",
        "invoice_pdf": f"https://invoice.stripe.test/i/{object_id}/pdf",
        "lines": {"object": "list", "data": [], "has_more": False},
        "livemode": False,
        "metadata": {},
        "number": f"ODIA-{object_id[-6:]}",
        "paid": status == "paid",
        "period_end": now,
        "period_start": now,
        "status": status,
        "subscription": subscription_id,
        "subtotal": amount,
        "total": amount,
    }


def charge(object_id: str, *, customer_id: str, amount: int, refunded: int = 0) -> dict:
    return {
        "id": object_id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": refunded,
        "balance_transaction": None,
        "captured": True,
        "created": int(time.time()),
        "currency": "usd",
        "customer": customer_id,
        "description": None,
        "disputed": False,
        "failure_code": None,
        "failure_message": None,
        "fraud_details": {},
        "invoice": None,
        "livemode": False,
        "metadata": {},
        "outcome": None,
        "paid": True,
        "payment_intent": None,
        "payment_method": None,
        "payment_method_details": None,
        "receipt_email": None,
        "receipt_number": None,
        "refunded": refunded >= amount,
        "refunds": {"object": "list", "data": [], "has_more": False},
        "shipping": None,
        "source": None,
        "statement_descriptor": None,
        "status": "succeeded",
    }


def refund(object_id: str, *, charge_id: str, amount: int, reason: str = "requested_by_customer") -> dict:
    return {
        "id": object_id,
        "object": "refund",
        "amount": amount,
        "balance_transaction": None,
        "charge": charge_id,
        "created": int(time.time()),
        "currency": "usd",
        "metadata": {},
        "payment_intent": None,
        "reason": reason,
        "receipt_number": None,
        "status": "succeeded",
    }


def dispute(object_id: str, *, charge_id: str, amount: int, status: str, reason: str = "fraudulent") -> dict:
    return {
        "id": object_id,
        "object": "dispute",
        "amount": amount,
        "balance_transactions": [],
        "charge": charge_id,
        "created": int(time.time()),
        "currency": "usd",
        "evidence": {},
        "evidence_details": {"due_by": None, "has_evidence": False, "past_due": False, "submission_count": 0},
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": None,
        "reason": reason,
        "status": status,
    }


# --- helpers ---------------------------------------------------------------------------------------------------
def _route(path: str) -> tuple[str | None, str | None, str | None]:
    for collection in sorted(PREFIXES, key=len, reverse=True):
        if path == collection:
            return collection, None, None
        if path.startswith(collection + "/"):
            rest = path[len(collection) + 1 :].split("/")
            return collection, rest[0], (rest[1] if len(rest) > 1 else None)
    return None, None, None


def _without(params: dict, *keys: str) -> dict:
    return {k: v for k, v in params.items() if k not in keys}


def _json(body: dict, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def _error(status: int, kind: str, message: str, code: str | None = None) -> Response:
    return _json({"error": {"type": kind, "message": message, **({"code": code} if code else {})}}, status)


def _missing(object_id: str) -> Response:
    return _error(404, "invalid_request_error", f"No such object: '{object_id}'", code="resource_missing")
