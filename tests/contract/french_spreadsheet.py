"""The CAF's files as a French spreadsheet reads them.

The CSV: LibreOffice Calc (Debian's libreoffice-calc-nogui) imports the
default export (`;`, decimal commas, UTF-8 with BOM) with French number
recognition, as a double-click in a French Excel does, and the cells must
be of the types an analyst filters and sums: booleans, numbers with
decimals, dates, and text for names and codes made of letters.

The XLSX, opened with openpyxl: French headers, labels instead of codes,
months as dates shown in French, percentages as percentage cells; and once
LibreOffice has converted it in the French locale, numbers still numbers."""

import datetime
import os
import subprocess
import tempfile
import urllib.request

import openpyxl

from service import paris_today, running

BOOLEANS = ["answered_within_deadline", "single_parent", "qpv_resident"]
NUMBERS = ["hours_to_first_response", "children"]


def fetch(base, token, path):
    req = urllib.request.Request(f"{base}{path}", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req) as r:
        return r.read()


def sheet_of(data, work, name):
    path = os.path.join(work, name)
    with open(path, "wb") as f:
        f.write(data)
    return openpyxl.load_workbook(path).active


def check_xlsx(rows_xlsx, indicators_xlsx):
    """Our XLSX as openpyxl reads it, then after a French LibreOffice."""
    with tempfile.TemporaryDirectory() as work:
        rows = sheet_of(rows_xlsx, work, "rows.xlsx")
        header = [c.value for c in rows[1]]
        assert "Mois de réception" in header and "Type de prescripteur" in header, header
        column = {name: i for i, name in enumerate(header)}
        body = list(rows.iter_rows(min_row=2))
        assert body, "rows"
        month = body[0][column["Mois de réception"]]
        assert isinstance(month.value, datetime.datetime), month.value
        assert "mmmm" in month.number_format, month.number_format
        kinds = {r[column["Type de prescripteur"]].value for r in body}
        assert kinds <= {"France Travail", "Conseil départemental", "Mission locale"}, kinds
        indicators = sheet_of(indicators_xlsx, work, "indicators.xlsx")
        header = [c.value for c in indicators[1]]
        share = header.index("Part répondue sous 72 h")
        label = header.index("Libellé")
        cells = [r[share] for r in indicators.iter_rows(min_row=2) if r[share].value is not None]
        assert cells, "some month has a rate"
        assert all("%" in c.number_format and 0 <= c.value <= 1 for c in cells), \
            [(c.value, c.number_format) for c in cells]
        months = [r[label].value for r in indicators.iter_rows(min_row=2)]
        assert all(any(m.startswith(n) for n in ("janvier", "février", "mars", "avril", "mai",
                   "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"))
                   for m in months), months
        # Through LibreOffice in the French locale: numbers stay numbers.
        out = os.path.join(work, "lo")
        subprocess.run(
            ["soffice", "--headless", "--convert-to", "xlsx", "--outdir", out,
             os.path.join(work, "indicators.xlsx")],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "LANG": "fr_FR.UTF-8", "LC_ALL": "fr_FR.UTF-8"},
        )
        again = openpyxl.load_workbook(os.path.join(out, "indicators.xlsx")).active
        header = [c.value for c in again[1]]
        received = header.index("Orientations reçues")
        share = header.index("Part répondue sous 72 h")
        for r in again.iter_rows(min_row=2):
            assert isinstance(r[received].value, (int, float)), r[received].value
            if r[share].value is not None:
                assert isinstance(r[share].value, (int, float)) and "%" in r[share].number_format, \
                    (r[share].value, r[share].number_format)
    print("XLSX: French headers, labels, months and percentages; numbers kept by LibreOffice")


def main():
    today = paris_today()
    period = f"from={today.replace(month=1, day=1)}&to={today}"
    with running() as (base, tokens, _client):
        csv = fetch(base, tokens["caf"], f"/api/v1/exports/referrals?{period}")
        rows_xlsx = fetch(base, tokens["caf"], f"/api/v1/exports/referrals?{period}&format=xlsx")
        indicators_xlsx = fetch(base, tokens["caf"], f"/api/v1/exports/indicators?{period}&format=xlsx")
    check_xlsx(rows_xlsx, indicators_xlsx)
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
