"""The CAF's CSV as a French spreadsheet reads it: LibreOffice Calc (Debian's
libreoffice-calc-nogui) imports the default export (`;`, decimal commas,
UTF-8 with BOM) with French number recognition, as a double-click in a
French Excel does, and the cells must be of the types an analyst filters
and sums: booleans, numbers with decimals, dates, and text for names and
codes made of letters."""

import datetime
import os
import subprocess
import tempfile
import urllib.request

import openpyxl

from service import paris_today, running

BOOLEANS = ["answered_within_deadline", "single_parent", "qpv_resident"]
NUMBERS = ["hours_to_first_response", "children"]


def main():
    today = paris_today()
    with running() as (base, tokens, _client):
        url = f"{base}/api/v1/exports/referrals?from={today.replace(month=1, day=1)}&to={today}"
        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {tokens['caf']}"})
        with urllib.request.urlopen(req) as r:
            csv = r.read()
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "rows.csv")
        with open(path, "wb") as f:
            f.write(csv)
        subprocess.run(
            ["soffice", "--headless", "--infilter=CSV:59,34,76,1,,1036", "--convert-to", "xlsx",
             "--outdir", work, path],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        sheet = openpyxl.load_workbook(os.path.join(work, "rows.xlsx")).active
        rows = list(sheet.iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    assert body, "the demo's year has rows"
    column = {name: i for i, name in enumerate(header)}
    for name in BOOLEANS:
        values = {type(row[column[name]]) for row in body if row[column[name]] is not None}
        assert values == {bool}, f"{name} reads as {values}"
    for name in NUMBERS:
        values = [row[column[name]] for row in body if row[column[name]] is not None]
        assert values and all(isinstance(v, (int, float)) for v in values), f"{name}: {values[:3]}"
    received = [row[column["received_month"]] for row in body]
    assert all(isinstance(v, datetime.datetime) for v in received), received[:3]
    names = [row[column["creche_name"]] for row in body]
    assert all(isinstance(v, str) for v in names), names[:3]
    print(f"French spreadsheet: {len(body)} rows, booleans, numbers and dates typed")


if __name__ == "__main__":
    main()
