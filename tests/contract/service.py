"""A running AVIP service for the contract checks: the real binary on a
fresh SQLite file in a temporary folder, filled by `avip demo`, on a free
local port, with a token for each role. Used by run_schemathesis.py and
client_life.py; nothing here is mocked."""

import contextlib
import datetime
import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
import zoneinfo

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AVIP = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "debug", "avip")
DEMO_PASSWORD = "avip demo 2026"
PEOPLE = {
    "admin": "admin@demo.avip.example",
    "coordinator": "coordination@toulon.demo.avip.example",
    "prescriber": "referent@ft-toulon.demo.avip.example",
    "caf": "evaluation@caf83.demo.avip.example",
}


def paris_today():
    """Today as the service counts days: in Paris. Late in the evening (UTC)
    it is already tomorrow there, and a date taken here would be the
    service's yesterday."""
    return datetime.datetime.now(zoneinfo.ZoneInfo("Europe/Paris")).date()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post_form(url, fields):
    data = urllib.parse.urlencode(fields).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def get_json(url, token):
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


@contextlib.contextmanager
def running(engine=False, settings=None, control=None):
    """Yields (base_url, tokens by role, client credentials of a prescriber's API client).
    `engine`: the SLA engine and the webhook dispatcher run too; `settings`:
    more environment variables; `control`: a dict that gets a `restart`
    function (stop the service as SIGTERM does, start it again on the same
    database and port)."""
    with tempfile.TemporaryDirectory(prefix="avip-contract-") as work:
        port = free_port()
        env = dict(os.environ)
        env.update(
            {
                "AVIP_ENV": "development",
                "DATABASE_URL": os.path.join(work, "avip.db"),
                "AVIP_BIND": f"127.0.0.1:{port}",
                "AVIP_PUBLIC_URL": f"http://127.0.0.1:{port}",
                "AVIP_JWT_SECRET": "contract-checks-secret-0123456789abcdef",
                "AVIP_MAIL_DIR": os.path.join(work, "mail"),
                "RUST_LOG": "warn",
                # The tools post far more referrals and token requests a
                # minute than any partner; the limits themselves are tested
                # in tests/tests/api/limits.rs.
                "AVIP_INTAKE_RATE_LIMIT": "1000000",
                "AVIP_TOKEN_RATE_LIMIT": "1000000",
            }
        )
        env.update(settings or {})
        env.pop("AVIP_SMTP_URL", None)
        subprocess.run([AVIP, "demo"], env=env, check=True, stdout=subprocess.DEVNULL)
        log = open(os.path.join(work, "serve.log"), "w")
        command = [AVIP, "serve"] if engine else [AVIP, "serve", "--no-sla"]
        base = f"http://127.0.0.1:{port}"
        processes = []

        def start():
            processes.append(subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT))
            for _ in range(200):
                try:
                    urllib.request.urlopen(base + "/ready").read()
                    return
                except OSError:
                    time.sleep(0.05)
            raise RuntimeError("the service did not become ready")

        def restart():
            processes[-1].terminate()
            processes[-1].wait(timeout=20)
            start()

        if control is not None:
            control["restart"] = restart
        start()
        try:
            tokens = {}
            for role, email in PEOPLE.items():
                answer = post_form(
                    base + "/api/v1/auth/token",
                    {"grant_type": "password", "username": email, "password": DEMO_PASSWORD},
                )
                tokens[role] = answer["access_token"]
            me = get_json(base + "/api/v1/me", tokens["prescriber"])
            created = subprocess.run(
                [AVIP, "admin", "create-api-client", "--organization-id", me["organization"]["id"], "--label", "SI partenaire"],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            client = json.loads(created.stdout)
            answer = post_form(
                base + "/api/v1/auth/token",
                {"grant_type": "client_credentials", "client_id": client["client_id"], "client_secret": client["client_secret"]},
            )
            tokens["api_client"] = answer["access_token"]
            yield base, tokens, client
        finally:
            processes[-1].terminate()
            processes[-1].wait(timeout=20)
            log.close()
