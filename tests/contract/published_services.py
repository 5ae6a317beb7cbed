"""The AVIP places published for data·inclusion, validated by the schema's
own published package (`data-inclusion-schema` on PyPI, pinned in
scripts/contract-tools), not by a copy of it: every service of the demo
territory must pass `Service.model_validate` with the package's warnings
turned into errors, and carry no field the schema does not define (a
directory would drop it silently)."""

import json
import urllib.request

from data_inclusion.schema.v1 import Service
from service import running


def main():
    with running() as (base, _tokens, _client):
        with urllib.request.urlopen(base + "/api/v1/data-inclusion/services") as answer:
            services = json.load(answer)
    if len(services) != 4:
        raise SystemExit(f"the demo has 4 crèches, {len(services)} services were published")
    for item in services:
        unknown = set(item) - set(Service.model_fields)
        if unknown:
            raise SystemExit(f"{item['id']}: fields outside the schema: {sorted(unknown)}")
        Service.model_validate(item, context={"ignore_warnings": False})
    print(f"{len(services)} services valid against data-inclusion-schema")


if __name__ == "__main__":
    main()
