"""The bilan d'activité as the institutions' tools read it.

The CAF's bilan of its département for the year so far, in both formats,
next to the indicators endpoint's figures for the same period and scope:

- python-docx reads the DOCX: the headings are Word's "Heading 1" (so a
  table of contents works), the key figures' table gives the indicators'
  received referrals and exits ("moins de 5" from 1 to 4);
- LibreOffice Writer converts it to PDF in the French locale without an
  error, and pdftotext finds the headings and the figures in the PDF;
- openpyxl reads the XLSX: one sheet per section, the figures, and the
  native charts."""

import io
import os
import subprocess
import tempfile
import urllib.request

import docx
import openpyxl

from service import paris_today, running

HEADINGS = ["Synthèse", "Orientations reçues", "Réponses aux familles sous 72 heures",
            "Sorties du dispositif", "Places AVIP et occupation", "Profil des familles orientées",
            "Actions menées", "Partenariats", "Perspectives"]


def fetch(base, token, path):
    req = urllib.request.Request(f"{base}{path}", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req) as r:
        return r.headers.get("Content-Type"), r.read()


def shown(n):
    """A count as the bilan writes it."""
    return "moins de 5" if 1 <= n <= 4 else str(n)


def key_figures(document):
    """The first table (the key figures): label -> the period's cell."""
    table = document.tables[0]
    return {row.cells[0].text: row.cells[1].text for row in table.rows[1:]}


def check_docx(data, totals):
    document = docx.Document(io.BytesIO(data))
    # (The table of contents' own paragraphs name no style.)
    headings = [p.text for p in document.paragraphs
                if p.style is not None and p.style.name == "Heading 1"]
    for h in HEADINGS:
        assert h in headings, (h, headings)
    figures = key_figures(document)
    for label, key in [("Orientations reçues", "received"), ("Sorties", "exits"),
                       ("Inscriptions", "enrollments")]:
        assert figures[label].replace("\u00a0", "") == shown(totals[key]), (label, figures, totals)
    assert len(document.tables) >= 10, len(document.tables)
    assert document.inline_shapes, "the charts are images"
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "bilan.docx")
        with open(path, "wb") as f:
            f.write(data)
        french = {**os.environ, "LANG": "fr_FR.UTF-8", "LC_ALL": "fr_FR.UTF-8", "HOME": work}
        subprocess.run(["soffice", "--headless", "--convert-to", "pdf", "--outdir", work, path],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=french)
        pdf = os.path.join(work, "bilan.pdf")
        assert os.path.getsize(pdf) > 10_000, "a PDF with its pages"
        text = subprocess.run(["pdftotext", "-layout", pdf, "-"], check=True,
                              capture_output=True, env=french).stdout.decode()
    flat = " ".join(text.replace("\u00a0", " ").split())
    for h in HEADINGS:
        assert h in flat, (h, flat[:400])
    received = shown(totals["received"])
    assert f"Orientations reçues {received}" in flat, (received, flat[:1500])
    assert "Page 2" in flat, "page numbers"
    print(f"DOCX: {len(headings)} headings, {len(document.tables)} tables, "
          f"{len(document.inline_shapes)} charts; LibreOffice's PDF shows {received} received")


def check_xlsx(data, totals):
    book = openpyxl.load_workbook(io.BytesIO(data))
    for sheet in ["Synthèse", "Orientations", "Réponses 72 h", "Sorties", "Places et occupation",
                  "Profil des familles", "Actions", "Partenariats", "Perspectives"]:
        assert sheet in book.sheetnames, (sheet, book.sheetnames)
    rows = {r[0]: r for r in book["Synthèse"].iter_rows(values_only=True) if r and r[0]}
    received = rows["Orientations reçues"][1]
    expected = totals["received"]
    assert received == ("moins de 5" if 1 <= expected <= 4 else expected), (received, expected)
    charts = {name: len(book[name]._charts) for name in book.sheetnames}
    assert charts["Orientations"] == 1 and charts["Places et occupation"] == 2, charts
    print(f"XLSX: {len(book.sheetnames)} sheets, {sum(charts.values())} native charts, "
          f"{received} received")


def main():
    today = paris_today()
    period = f"from={today.replace(month=1, day=1)}&to={today}"
    with running() as (base, tokens, _client):
        _, body = fetch(base, tokens["caf"], f"/api/v1/exports/indicators?{period}&format=json")
        kind, docx_bytes = fetch(base, tokens["caf"], f"/api/v1/reports/activity?{period}")
        assert kind.startswith("application/vnd.openxmlformats-officedocument.wordprocessingml"), kind
        kind, xlsx_bytes = fetch(base, tokens["caf"],
                                 f"/api/v1/reports/activity?{period}&format=xlsx")
        assert kind.startswith("application/vnd.openxmlformats-officedocument.spreadsheetml"), kind
    import json
    months = json.loads(body)
    totals = {key: sum(m[key] for m in months) for key in ["received", "exits", "enrollments"]}
    assert totals["received"] > 0, "the demo's year has referrals"
    check_docx(docx_bytes, totals)
    check_xlsx(xlsx_bytes, totals)


if __name__ == "__main__":
    main()
