"""Webhooks checked by the reference implementation of the Standard Webhooks
specification (the `standardwebhooks` package on PyPI, pinned in
scripts/contract-tools), not by this service's own code: a prescriber's
API client subscribes a receiver on 127.0.0.1, which answers 503 to the
first attempts while the service is stopped and started again; every request
it gets must verify with the secret shown at subscription, each event is
delivered once, and a forged body, a forged timestamp or a stale one fails
verification."""

import http.server
import json
import socket
import threading
import time
import urllib.error
import urllib.request

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from service import get_json, running

DOWN_FOR = 4  # the first requests are answered 503


class Receiver(http.server.BaseHTTPRequestHandler):
    hits = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        status = 503 if len(Receiver.hits) < DOWN_FOR else 204
        Receiver.hits.append((dict(self.headers.items()), body, status))
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def call(base, token, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        raise SystemExit(f"{method} {path}: {e.code} {e.read().decode()}")


def referral(creche_id):
    return {
        "creche_id": creche_id,
        "referent": {"name": "Paul Durand", "email": "p.durand@example.org"},
        "parent": {"first_name": "Amina", "last_name": "Benali", "phone": "06 12 34 56 78",
                   "postal_code": "83000", "commune": "Toulon", "situation": "job_seeker",
                   "single_parent": True, "qpv_resident": False},
        "children": [{"first_name": "Yanis", "birth_date": "2025-10-01"}],
        "needs": {"desired_start_date": time.strftime("%Y-%m-%d", time.gmtime(time.time() + 20 * 86400)),
                  "days_per_week": 4, "atypical_hours": False},
        "insertion_project": {"kind": "training", "description": "CAP petite enfance"},
        "consent": {"given": True, "date": time.strftime("%Y-%m-%d")},
    }


def main():
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{receiver.server_address[1]}/avip"
    control = {}
    settings = {"AVIP_WEBHOOK_RETRY": "1s,1s,1s,1s,1s"}
    with running(engine=True, settings=settings, control=control) as (base, tokens, _client):
        system = tokens["api_client"]
        created = call(base, system, "POST", "/api/v1/webhooks",
                       {"url": url, "events": ["referral.created", "referral.status_changed"]})
        secret = created["secret"]
        places = get_json(base + "/api/v1/availability", tokens["prescriber"])
        creche = next(c["creche_id"] for c in places["items"] if c["name"] == "Les Petits Pas")
        posted = call(base, system, "POST", "/api/v1/referrals", referral(creche))
        for to in ("contacted", "offered"):
            call(base, tokens["coordinator"], "POST", f"/api/v1/referrals/{posted['id']}/transitions", {"to": to})
        # The service stops while deliveries wait for their next attempt,
        # and starts again: they are sent, once each.
        control["restart"]()
        deadline = time.time() + 30
        while time.time() < deadline and len({h[0]["webhook-id"] for h in Receiver.hits if h[2] < 300}) < 3:
            time.sleep(0.2)
        time.sleep(2)
    receiver.shutdown()

    hits = Receiver.hits
    delivered = [h for h in hits if h[2] < 300]
    ids = [h[0]["webhook-id"] for h in delivered]
    if sorted(set(ids)) != sorted(ids) or len(ids) != 3:
        raise SystemExit(f"each event delivered once, 3 in all: {ids}")
    if not any(h[2] == 503 for h in hits):
        raise SystemExit("the receiver was never down: the retries were not exercised")
    hook = Webhook(secret)
    events = []
    for headers, body, _ in hits:
        payload = hook.verify(body, headers)
        if payload["data"]["referral_id"] != posted["id"]:
            raise SystemExit(f"another referral: {payload}")
        events.append((headers["webhook-id"], payload["type"], payload["data"]["status"]))
    kinds = sorted({(t, s) for _, t, s in events})
    expected = [("referral.created", "received"), ("referral.status_changed", "contacted"),
                ("referral.status_changed", "offered")]
    if kinds != expected:
        raise SystemExit(f"events: {kinds}")
    # What an attacker could send does not verify.
    headers, body, _ = delivered[0]
    forged = [
        (dict(headers), body.replace(b'"status":"', b'"status":"enrolled-')),
        ({**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) + 1)}, body),
        ({**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) - 600)}, body),
        ({**headers, "webhook-id": headers["webhook-id"] + "0"}, body),
    ]
    for fake_headers, fake_body in forged:
        try:
            hook.verify(fake_body, fake_headers)
        except WebhookVerificationError:
            continue
        raise SystemExit(f"a forged request verified: {fake_headers}")
    try:
        Webhook("whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=").verify(body, headers)
    except WebhookVerificationError:
        pass
    else:
        raise SystemExit("another secret verified a delivery")
    print(f"webhooks: {len(hits)} requests ({len(hits) - len(delivered)} refused by the receiver), "
          f"{len(delivered)} events, every signature verified by standardwebhooks")


if __name__ == "__main__":
    main()
