"""Schemathesis over every operation of openapi/openapi.json against the
running service, once with the token of each role (admin, coordinator,
prescriber, a prescriber's API client, the CAF) and once without any, with
its default checks. Exits non-zero on any failure."""

import concurrent.futures
import os
import subprocess
import sys

from service import ROOT, running

SCHEMA = os.path.join(ROOT, "openapi", "openapi.json")
CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemathesis.toml")
MAX_EXAMPLES = os.environ.get("CONTRACT_MAX_EXAMPLES", "25")
# Runs at once: each is one Python process generating requests, mostly on
# one core, and its own service; two keep both cores of the CI busy.
JOBS = int(os.environ.get("CONTRACT_JOBS", "2"))


# Each run: a role, and which operations (`None`: all but those of
# `REVOKING`). A person update may disable the run's own identity or change
# its password, and a sign-out everywhere may be the run's own: either
# revokes its token at once (the service's rule), and every operation after
# it would only see 401 and test nothing. So they run last, on a service of
# their own, with the operations that give them people's ids.
REVOKING = ["updateUser", "signUserOutEverywhere"]
RUNS = [
    ("admin", None),
    ("coordinator", None),
    ("prescriber", None),
    ("caf", None),
    ("api_client", None),
    ("anonymous", None),
    ("admin", ["listUsers", "createUser"] + REVOKING),
]


def run(role, only):
    """One run on a fresh service of its own: what one run changes (a person
    disabled, an API client deleted) must not revoke another run's token.
    Returns its name, whether it passed, and what schemathesis printed."""
    st = os.path.join(os.path.dirname(sys.executable), "st")
    name = f"{role} ({', '.join(only)})" if only else role
    with running() as (base, tokens, _client):
        command = [
            st, "--config-file", CONFIG, "run", SCHEMA,
            "--url", base,
            "--max-examples", MAX_EXAMPLES,
            "--seed", "1",
            "--no-color",
            "--suppress-health-check", "all",
        ]
        if only:
            for operation in only:
                command += ["--include-operation-id", operation]
        else:
            for operation in REVOKING:
                command += ["--exclude-operation-id", operation]
        token = tokens.get(role)
        if token:
            command += ["--header", f"Authorization: Bearer {token}"]
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        return name, done.returncode == 0, done.stdout


def main():
    failed = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=JOBS) as pool:
        runs = [pool.submit(run, role, only) for role, only in RUNS]
        # Each run's output whole, in the order of RUNS.
        for future in runs:
            name, passed, output = future.result()
            print(f"== schemathesis as {name}", flush=True)
            print(output, flush=True)
            if not passed:
                failed.append(name)
    if failed:
        print("schemathesis failed for: " + ", ".join(failed))
        sys.exit(1)
    print("schemathesis: no failure for any role")


if __name__ == "__main__":
    main()
