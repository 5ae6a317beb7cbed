"""Schemathesis over every operation of openapi/openapi.json against the
running service, once with the token of each role (admin, coordinator,
prescriber, a prescriber's API client, the CAF) and once without any, with
its default checks. Exits non-zero on any failure."""

import os
import subprocess
import sys

from service import ROOT, running

SCHEMA = os.path.join(ROOT, "openapi", "openapi.json")
CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemathesis.toml")
MAX_EXAMPLES = os.environ.get("CONTRACT_MAX_EXAMPLES", "25")


def main():
    st = os.path.join(os.path.dirname(sys.executable), "st")
    failed = []
    with running() as (base, tokens, _client):
        for role, token in list(tokens.items()) + [("anonymous", None)]:
            command = [
                st, "--config-file", CONFIG, "run", SCHEMA,
                "--url", base,
                "--max-examples", MAX_EXAMPLES,
                "--seed", "1",
                "--no-color",
                "--suppress-health-check", "all",
            ]
            if token:
                command += ["--header", f"Authorization: Bearer {token}"]
            print(f"== schemathesis as {role}", flush=True)
            if subprocess.run(command).returncode != 0:
                failed.append(role)
    if failed:
        print("schemathesis failed for: " + ", ".join(failed))
        sys.exit(1)
    print("schemathesis: no failure for any role")


if __name__ == "__main__":
    main()
