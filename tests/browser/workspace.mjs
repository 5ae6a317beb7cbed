// The web workspace in a real browser: Debian's chromium driven by
// playwright-core, axe-core run on every page (WCAG 2.1 A and AA). Started by
// scripts/browser against the real `avip` binary and a database filled by
// `avip demo`; the base address comes in AVIP_URL.
import { chromium } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';
import { readdirSync, readFileSync } from 'node:fs';

const base = process.env.AVIP_URL;
if (!base) throw new Error('AVIP_URL is not set');
// The OpenID Connect provider of tests/browser/provider.mjs, when it runs.
const issuer = process.env.AVIP_OIDC_ISSUER;
const provider = (url) => Boolean(issuer) && url.startsWith(issuer);
const PASSWORD = 'avip demo 2026';
const failures = [];
const checked = [];

function fail(message) {
  failures.push(message);
  console.error(`FAIL ${message}`);
}

function expect(condition, message) {
  if (!condition) fail(message);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

async function newPage() {
  const context = await browser.newContext({ locale: 'fr-FR', acceptDownloads: true });
  const page = await context.newPage();
  // Nothing is fetched from another host; no script or style is refused
  // by the content security policy; no script fails.
  // (The provider's own pages are not ours: its development login page
  // asks Google for a font, which this machine cannot reach.)
  await page.route('https://fonts.googleapis.com/**', (route) => route.abort());
  page.on('request', (r) => {
    const url = r.url();
    if (!url.startsWith(base) && !url.startsWith('data:') && !provider(url)
      && !(provider(page.url()) && url.startsWith('https://fonts.googleapis.com/'))) {
      fail(`request to another host: ${url}`);
    }
  });
  // A refused form or sign-in answers 400, 401, 403 or 422 with its page:
  // chromium notes the status, which is not a fault.
  // So does a dead outcome or booking link (404), whatever the reason.
  const expected = /Failed to load resource: the server responded with a status of (400|401|403|422)/;
  const deadLink = /Failed to load resource: the server responded with a status of 404/;
  // Chromium fetches a page's /favicon.ico by itself; when the provider's
  // page hands over to ours while it does, the fetch of the provider's icon
  // is reported against our page's content security policy. It is the
  // browser's request, not one of our pages'.
  const providerIcon = (text) => Boolean(issuer) && text.includes(`${issuer}/favicon.ico`);
  page.on('console', (m) => {
    const dead = (page.url().includes('/app/suivi/') || page.url().includes('/app/rendez-vous/'))
      && deadLink.test(m.text());
    if (m.type() === 'error' && !expected.test(m.text()) && !dead && !provider(page.url())
      && !providerIcon(m.text())) {
      fail(`console error on ${page.url()}: ${m.text()}`);
    }
  });
  page.on('pageerror', (e) => fail(`script error on ${page.url()}: ${e.message}`));
  return page;
}

// Every page checked is checked twice: as it is (1,280 px wide) and at a
// phone's 390 px, each time no wider than the screen and through axe-core.
async function axe(page, name) {
  await fits(page, name);
  await axeOnly(page, name);
  await phone(page, name);
}

async function axeOnly(page, name) {
  const results = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'])
    .analyze();
  checked.push(name);
  for (const v of results.violations) {
    const where = v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ');
    fail(`axe on ${name}: ${v.id} (${v.impact}): ${v.help} — ${where}`);
  }
}

async function fits(page, name) {
  const width = page.viewportSize().width;
  const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(wide <= 0, `${name} fits ${width} px (${wide} px too wide: ${wide > 0 ? await tooWide(page) : ''})`);
}

// The page at a phone's width (resized, not reloaded: a form's answer is
// not sent again): nothing scrolls sideways but the regions made to (wide
// tables), and axe-core passes there too.
async function phone(page, name) {
  await page.setViewportSize({ width: 390, height: 844 });
  await fits(page, name);
  await axeOnly(page, `${name} at 390 px`);
  await page.setViewportSize({ width: 1280, height: 900 });
}

// With AVIP_SCREENSHOTS=<folder>, the run also photographs the main pages
// at both widths (docs/screenshots/, README there).
async function screenshot(page, name) {
  const folder = process.env.AVIP_SCREENSHOTS;
  if (!folder) return;
  for (const [width, height] of [[1280, 900], [390, 844]]) {
    await page.setViewportSize({ width, height });
    await page.screenshot({ path: `${folder}/${name}-${width}.png`, fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

// What sticks out of the page on the right (not what scrolls inside a box
// of its own), to say which element makes a page too wide.
function tooWide(page) {
  return page.evaluate(() => {
    const clipped = (e) => {
      for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
        if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(a).overflowX)) return true;
      }
      return false;
    };
    return [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 && !clipped(e))
      .slice(0, 6)
      .map((e) => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}${typeof e.className === 'string' && e.className ? `.${e.className.trim().replace(/\s+/g, '.')}` : ''} ${Math.round(e.getBoundingClientRect().right)}px`)
      .join(', ');
  });
}

async function signIn(page, email) {
  await page.getByLabel('Adresse e-mail').fill(email);
  await page.getByLabel('Mot de passe').fill(PASSWORD);
  await page.getByRole('button', { name: 'Se connecter' }).click();
  await page.waitForLoadState('load');
}

/** A Monday at least a week ahead, YYYY-MM-DD. */
// A Monday at least a week ahead, `weeks` weeks later still.
function nextMonday(weeks = 0) {
  const d = new Date();
  d.setDate(d.getDate() + 7 + 7 * weeks);
  while (d.getDay() !== 1) d.setDate(d.getDate() + 1);
  return d.toISOString().slice(0, 10);
}

async function occupied(page, creche, day) {
  await page.goto(`${base}/app/places?creche=${creche}&mois=${day.slice(0, 7)}`);
  const cell = page.locator('table.planning td').filter({
    has: page.locator('span.day', { hasText: new RegExp(`^${Number(day.slice(8))}$`) }),
  });
  const text = await cell.innerText();
  if (text.includes('fermé')) return null;
  const m = text.match(/(\d+) occupée/);
  return m ? Number(m[1]) : NaN;
}

// ----- The pages a public service owes, from the footer, without an account -----
{
  const page = await newPage();
  await page.goto(`${base}/app/connexion`);
  for (const [link, title] of [
    ['Mentions légales', 'Mentions légales'],
    ['Accessibilité : non conforme', 'Déclaration d’accessibilité'],
    ['Données personnelles', 'Données personnelles'],
    ['Aide et contact', 'Aide et contact'],
  ]) {
    await page.getByRole('contentinfo').getByRole('link', { name: link }).click();
    await page.waitForLoadState('load');
    expect(await page.locator('h1').innerText() === title, `the footer's "${link}" opens its page`);
    await axe(page, title);
  }
  expect((await page.content()).includes('mailto:') || (await page.content()).includes('à renseigner'),
    'help names where to write');
  await page.close();
}

// ----- The coordinator -----
{
  const page = await newPage();
  await page.goto(`${base}/app/a-traiter`);
  expect(page.url().includes('/app/connexion?suite='), `an unsigned visit goes to sign-in (${page.url()})`);
  await axe(page, 'sign-in');
  await signIn(page, 'coordination@toulon.demo.avip.example');
  expect(page.url().endsWith('/app/a-traiter'), `after sign-in, the page asked for (${page.url()})`);
  expect(await page.locator('h1').innerText() === 'À traiter', 'the worklist');
  expect(await page.locator('nav .count').count() === 1, 'the count in the navigation');
  await axe(page, 'worklist');
  await screenshot(page, 'a-traiter');
  await page.goto(`${base}/app/orientations`);
  await axe(page, 'referrals');
  await screenshot(page, 'orientations');
  await page.goto(`${base}/app/orientations?q=benali&ordre=echeance`);
  await phone(page, 'referrals searched');
  await page.goto(`${base}/app/a-traiter`);

  // A family awaiting its first answer: a refusal without its note, then contacted.
  await page.locator('table[aria-labelledby="reponses"] tbody a').first().click();
  await page.waitForLoadState('load');
  const referral = page.url();
  await axe(page, 'referral page');
  await page.getByText('Refuser l’orientation').click();
  await page.locator('#refus-reason').selectOption('other');
  await page.getByRole('button', { name: 'Refuser', exact: true }).click();
  await page.waitForLoadState('load');
  expect((await page.locator('#refus-note-err').innerText()).includes('Expliquez le motif'),
    'the missing note is named next to its field, in French');
  await axe(page, 'referral page with an error');
  await page.goto(referral);
  // A note typed while the session ends is not lost: after signing in
  // again she is back on the page with it, told that nothing was saved.
  await page.locator('#transition-note').fill('rappeler la maman jeudi');
  await page.context().clearCookies();
  await page.getByRole('button', { name: 'Ajouter seulement la note' }).click();
  await page.waitForLoadState('load');
  expect(page.url().includes('/app/connexion?suite='), `a form sent after the session ended asks to sign in (${page.url()})`);
  await signIn(page, 'coordination@toulon.demo.avip.example');
  expect(page.url() === referral, `back on the referral after signing in (${page.url()})`);
  expect(await page.locator('#transition-note').inputValue() === 'rappeler la maman jeudi', 'what was typed is back');
  expect((await page.locator('#saisie-retablie').innerText()).includes('rien n’a encore été enregistré'),
    'she is told nothing was saved yet');
  expect(!(await page.locator('.timeline').innerText()).includes('rappeler la maman jeudi'), 'nothing was saved');
  await axe(page, 'referral page with a form put back');
  await screenshot(page, 'orientation');
  await page.locator('#transition-note').fill('');
  await page.getByRole('button', { name: 'Famille contactée' }).click();
  await page.waitForLoadState('load');
  expect((await page.locator('[role=status]').innerText()).includes('mis à jour'), 'the move is confirmed');
  expect((await page.locator('dl.facts').first().innerText()).includes('Famille contactée'), 'the new status');
  // No place on the family's days: she hands it to another crèche of the
  // département, those free on its days offered first.
  await page.getByText('Transférer vers une autre crèche').click();
  expect(await page.locator('#transfert-creche_id option').count() >= 2, 'other crèches are offered');
  await axe(page, 'referral page with the transfer form');
  await page.locator('#transfert-creche_id').selectOption({ index: 1 });
  await page.locator('#transfert-reason').selectOption('no_place_on_days');
  await page.getByRole('button', { name: 'Transférer', exact: true }).click();
  await page.waitForLoadState('load');
  expect(page.url().endsWith('/app/a-traiter?fait=transfert'), `after a transfer, the worklist (${page.url()})`);
  expect((await page.locator('[role=status]').innerText()).includes('transférée'), 'the transfer is confirmed');
  await axe(page, 'worklist after a transfer');
  // One waiting list across her crèches, with where there is room.
  await page.goto(`${base}/app/liste-attente`);
  expect(await page.locator('h1').innerText() === 'Liste d’attente', 'the waiting list opens');
  await axe(page, 'waiting list');
  await screenshot(page, 'liste-attente');
  // An offer left unanswered past its hold waits for a decision on the
  // worklist: she puts the family on the waiting list.
  await page.goto(`${base}/app/a-traiter`);
  const expired = page.locator('table[aria-labelledby="decisions"] tbody tr', { hasText: 'Offre expirée' }).first();
  expect(await expired.count() === 1, 'an expired offer waits for a decision');
  await axe(page, 'worklist with decisions to take');
  await expired.locator('a').first().click();
  await page.waitForLoadState('load');
  await axe(page, 'referral page of an expired offer');
  await page.getByRole('button', { name: 'Mettre en liste d’attente' }).click();
  await page.waitForLoadState('load');
  expect((await page.locator('dl.facts').first().innerText()).includes('Liste d’attente'),
    'the expired offer is decided: the family is on the waiting list');

  // An offered family is enrolled; the planning shows the place taken at once.
  await page.goto(`${base}/app/a-traiter`);
  const offered = page.locator('table[aria-labelledby="en-cours"] tbody tr', { hasText: 'Place proposée' }).first();
  const crecheName = (await offered.locator('td').nth(2).innerText()).trim();
  await offered.locator('a').first().click();
  await page.waitForLoadState('load');
  const enrollPage = page.url();
  await page.goto(`${base}/app/places`);
  await axe(page, 'planning');
  expect(await page.locator('.week-summary li').count() === 7, 'a summary line per weekday');
  expect((await page.locator('table.planning td.closed').first().innerText()).includes('fermé'),
    'closed days say so');
  // A closure recorded from the page, listed, then removed.
  const summer = `${new Date().getFullYear() + 1}-08`;
  await page.goto(`${base}/app/places?mois=${summer}`);
  await page.locator('#closure-from').fill(`${summer}-03`);
  await page.locator('#closure-to').fill(`${summer}-21`);
  await page.getByRole('button', { name: 'Ajouter la fermeture' }).click();
  await page.waitForLoadState('load');
  expect(await page.locator('#closure-label-err').count() === 1, 'the missing label is named');
  await axe(page, 'planning with a refused closure');
  await page.locator('#closure-label').fill('Fermeture estivale');
  await page.getByRole('button', { name: 'Ajouter la fermeture' }).click();
  await page.waitForLoadState('load');
  expect((await page.locator('.closures').innerText()).includes('Fermeture estivale'), 'the closure is listed');
  expect(await page.locator('table.planning td.closed', { hasText: 'Fermeture estivale' }).count() >= 10,
    'its days are closed on the planning');
  await axe(page, 'planning with a closure');
  await screenshot(page, 'planning');
  await page.locator('.closures button').first().click();
  await page.waitForLoadState('load');
  expect(await page.locator('.closures').count() === 0, 'the closure is removed');
  const crecheId = await page.locator('#creche option', { hasText: crecheName }).getAttribute('value');
  // The first Monday the crèche opens (not Easter or Whit Monday).
  let start = nextMonday();
  let before = await occupied(page, crecheId, start);
  for (let w = 1; before === null && w < 5; w++) {
    start = nextMonday(w);
    before = await occupied(page, crecheId, start);
  }
  await page.goto(enrollPage);
  await page.getByText('Inscrire l’enfant').click();
  await page.locator('#inscription-start_date').fill(start);
  for (const day of ['mon', 'tue', 'thu', 'fri']) await page.locator(`#inscription-day-${day}`).check();
  await page.getByRole('button', { name: 'Inscrire', exact: true }).click();
  await page.waitForLoadState('load');
  if (await page.locator('#inscription-force-err').count() > 0) {
    await axe(page, 'enrollment refused for lack of a place');
    await page.locator('#inscription-force-box').check();
    await page.locator('#inscription-force_reason').fill('accord de la directrice');
    await page.getByRole('button', { name: 'Inscrire', exact: true }).click();
    await page.waitForLoadState('load');
  }
  expect((await page.locator('[role=status]').innerText()).includes('inscription est enregistrée'),
    `the enrollment is recorded (${page.url()})`);
  const after = await occupied(page, crecheId, start);
  expect(after > before, `the planning shows the place taken on ${start}: ${before} then ${after}`);

  // The exit: checked first (positive or not, now or on its day), then
  // confirmed; a later day plans it, and the plan can be cancelled.
  await page.goto(enrollPage);
  await page.getByText('Enregistrer la sortie').click();
  await page.locator('#sortie-date').fill(start);
  await page.locator('#sortie-reason').selectOption('employment');
  await page.locator('#sortie-employment_status').selectOption('employed_permanent');
  await page.locator('#sortie-childcare_solution').selectOption('same_creche');
  await page.getByRole('button', { name: 'Vérifier la sortie' }).click();
  await page.waitForLoadState('load');
  const check = await page.locator('.confirm').innerText();
  expect(check.includes('oui : le parent travaille') && check.includes('prévue'),
    `the check says what will be recorded: ${check}`);
  await axe(page, 'exit to confirm');
  await page.setViewportSize({ width: 390, height: 844 });
  const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(wide <= 0, `the exit to confirm fits 390 px (${wide} px too wide)`);
  await axe(page, 'exit to confirm at 390 px');
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.getByRole('button', { name: 'Confirmer la sortie' }).click();
  await page.waitForLoadState('load');
  expect((await page.locator('[role=status]').innerText()).includes('sortie est prévue'), 'the exit is planned');
  expect(await page.locator('#sortie-prevue').count() === 1, 'the planned exit is shown');
  await axe(page, 'planned exit');
  await page.getByRole('button', { name: 'Annuler la sortie prévue' }).click();
  await page.waitForLoadState('load');
  expect(await page.locator('#sortie-prevue').count() === 0, 'the planned exit is cancelled');
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(`${base}/app/places/territoire`);
  await axe(page, 'territory');
  expect(await page.locator('.scroll').evaluate((e) => e.scrollWidth <= e.clientWidth),
    'the territory month fits 1280 px without scrolling sideways');
  expect((await page.locator('table.territory thead th').nth(1).innerText()).match(/^(lu|ma|me|je|ve|sa|di)/),
    'each day says its weekday');
  await page.locator('table.territory tbody th a').first().click();
  await page.waitForLoadState('load');
  expect(page.url().includes('/app/places?creche='), `a crèche's name leads to its planning (${page.url()})`);
  await page.goto(`${base}/app/places/territoire`);
  await phone(page, 'territory');

  await page.goto(`${base}/app/indicateurs`);
  expect(await page.locator('svg.chart').count() === 4, 'four charts');
  expect(await page.locator('.charts figcaption').count() === 4, 'four visible chart titles');
  // The charts' text as drawn on the screen, at least 12 px at both widths.
  const smallest = () => page.evaluate(() => Math.min(...[...document.querySelectorAll('svg.chart text')]
    .map((t) => t.getScreenCTM().a * parseFloat(getComputedStyle(t).fontSize))));
  expect(await smallest() >= 11.9, `chart text at 1280 px is ${await smallest()} px`);
  expect(!(await page.locator('svg.chart text').allTextContents()).some((t) => /^\d\d\/\d\d$/.test(t)),
    'months in words on the charts');
  await axe(page, 'indicators');
  await page.setViewportSize({ width: 390, height: 844 });
  expect(await smallest() >= 11.9, `chart text at 390 px is ${await smallest()} px`);
  await page.setViewportSize({ width: 1280, height: 900 });
  await phone(page, 'indicators');
  await screenshot(page, 'indicateurs');
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByText('Télécharger en XLSX').click(),
  ]);
  expect(download.suggestedFilename().endsWith('.xlsx'), `an XLSX file (${download.suggestedFilename()})`);

  // The bilan: its sections previewed with their charts, then the files.
  await page.goto(`${base}/app/bilan`);
  expect(await page.locator('h1').innerText() === 'Bilan d’activité', 'the bilan page');
  expect(await page.locator('section.card h2').count() === 12, 'twelve sections');
  expect(await page.locator('svg.chart').count() === 4, 'four charts in the preview');
  await axe(page, 'bilan');
  await screenshot(page, 'bilan');
  await page.locator('#perimetre').selectOption({ index: 1 });
  await page.getByRole('button', { name: 'Afficher' }).click();
  await page.waitForLoadState('load');
  expect(page.url().includes('perimetre=operator'), `an operator's bilan (${page.url()})`);
  await axe(page, 'bilan of an operator');
  for (const [label, extension] of [['Télécharger le bilan (Word)', '.docx'], ['Télécharger le bilan (Excel)', '.xlsx']]) {
    const [file] = await Promise.all([page.waitForEvent('download'), page.getByText(label).click()]);
    expect(file.suggestedFilename().endsWith(extension), `a ${extension} bilan (${file.suggestedFilename()})`);
  }

  await page.getByRole('button', { name: 'Se déconnecter' }).click();
  await page.waitForLoadState('load');
  expect((await page.locator('[role=status]').innerText()).includes('déconnecté'), 'signed out');
  await page.goto(`${base}/app/a-traiter`);
  expect(page.url().includes('/app/connexion'), 'signed out, the worklist asks to sign in');
  await page.context().close();
}

// ----- An administrator corrects an exit -----
{
  const page = await newPage();
  await page.goto(`${base}/app/`);
  await signIn(page, 'admin@demo.avip.example');
  await page.goto(`${base}/app/orientations?statut=exited`);
  await page.locator('table tbody a').first().click();
  await page.waitForLoadState('load');
  await page.getByText('Corriger la sortie').click();
  await page.locator('#correction-childcare_solution').selectOption('other_eaje');
  await page.getByRole('button', { name: 'Enregistrer la correction' }).click();
  await page.waitForLoadState('load');
  expect(await page.locator('#correction-correction_reason-err').count() === 1
    || await page.locator('#correction-correction_reason:invalid').count() === 1,
    'a correction needs its reason');
  await page.locator('#correction-correction_reason').fill('solution trouvée dans une autre crèche');
  await page.getByRole('button', { name: 'Enregistrer la correction' }).click();
  await page.waitForLoadState('load');
  expect((await page.locator('[role=status]').innerText()).includes('sortie est corrigée'), 'the exit is corrected');
  expect((await page.locator('main').innerText()).includes('Sortie corrigée'), 'the timeline keeps the correction');
  await axe(page, 'corrected exit');
  await page.context().close();
}

// ----- The referent answers the outcome request, without an account -----
{
  const dir = process.env.AVIP_MAIL_DIR;
  const decoded = readdirSync(dir)
    .map((f) => readFileSync(`${dir}/${f}`, 'utf8'))
    .map((m) => m.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16))));
  const link = decoded
    .map((m) => m.match(/\/app\/suivi\/[0-9a-f-]+\/[36]_months\/[0-9]+\.[0-9a-f]{64}/))
    .find((m) => m);
  expect(Boolean(link), 'an outcome request was e-mailed with its link');
  if (link) {
    const page = await newPage();
    await page.goto(`${base}${link[0]}`);
    expect((await page.locator('h1').innerText()).includes('Où en est le parent'), 'the question');
    await axe(page, 'outcome question');
    await page.getByRole('button', { name: 'Envoyer la réponse' }).click();
    expect(await page.locator('input[name=employment_status]:invalid').count() > 0, 'a situation is required');
    await page.getByLabel('En formation').check();
    await page.getByRole('button', { name: 'Envoyer la réponse' }).click();
    await page.waitForLoadState('load');
    expect((await page.locator('h1').innerText()) === 'Merci', 'the answer is recorded');
    await axe(page, 'outcome recorded');
    await page.goto(`${base}${link[0]}`);
    expect((await page.locator('h1').innerText()).includes('plus valable'), 'the link answers once');
    await axe(page, 'outcome link used');
    await page.context().close();
  }
}

// ----- The coordinator brings her spreadsheet in -----
{
  const page = await newPage();
  const heading = async () => (await page.locator('h1').innerText()).trim();
  // A form's button, and the page its answer leads to (a 303 to the same
  // address included) fully loaded before anything is read.
  const send = async (button) => {
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), button.click()]);
  };
  await page.goto(`${base}/app/import`);
  await signIn(page, 'coordination@toulon.demo.avip.example');
  expect(await heading() === 'Importer un tableur', `the import page (${await heading()})`);
  await axe(page, 'import');
  await page.locator('#file').setInputFiles(new URL('../fixtures/imports/errors.csv', import.meta.url).pathname);
  await send(page.getByRole('button', { name: 'Lire le fichier' }));
  expect(page.url().includes('/app/import/'), `the file read, its preview (${page.url()})`);
  expect(await page.getByText('Fichier CSV lu en UTF-8').count() === 1, 'the encoding and separator said');
  expect(await page.getByText('Ce n’est pas une date : écrivez-la JJ/MM/AAAA.').count() === 1, 'the invalid date named in French');
  await axe(page, 'import preview');
  await screenshot(page, 'import');
  // The column the coordinator maps again: every row is read again.
  await send(page.getByRole('button', { name: 'Vérifier les colonnes' }));
  await page.locator('[name="champ:child.birth_date"]').fill('28/02/2024');
  await page.locator('[name="champ:parent.situation"]').fill('Demandeur d’emploi');
  await send(page.getByRole('button', { name: 'Vérifier la ligne 3' }));
  expect(await page.getByText('Ce n’est pas une date').count() === 0, 'row 3 corrected');
  for (const row of [4, 5]) {
    await send(page.getByRole('button', { name: `Retirer la ligne ${row}` }));
  }
  await axe(page, 'import ready');
  const commit = page.getByRole('button', { name: /^Importer \d+ orientations$/ });
  expect(await commit.count() === 1, 'the commit offered once nothing is invalid');
  await send(commit);
  expect(await page.getByText(/^Import enregistré/).count() === 1, `the import committed (${await heading()})`);
  await axe(page, 'import committed');
  await page.context().close();
}

// ----- The coordinator invites a family; the parent books from her phone -----
{
  const page = await newPage();
  await page.goto(`${base}/app/a-traiter`);
  await signIn(page, 'coordination@toulon.demo.avip.example');
  let invited = false;
  for (const status of ['received', 'contacted']) {
    if (invited) break;
    await page.goto(`${base}/app/orientations?statut=${status}`);
    const links = await page.locator('table tbody tr a').evaluateAll((as) => as.map((a) => a.href));
    for (const href of links.slice(0, 12)) {
      await page.goto(href);
      if (await page.getByText('Inviter la famille à choisir son rendez-vous').count() === 0) continue;
      await page.getByText('Inviter la famille à choisir son rendez-vous').click();
      const day = new Date(Date.now() + 3 * 86400000).toISOString().slice(0, 10);
      await page.locator('#rendez-vous-nouveau-0-starts_at').fill(day);
      await page.locator('#rendez-vous-nouveau-0-heure').fill('10:00');
      await page.getByRole('button', { name: 'Envoyer l’invitation' }).click();
      await page.waitForLoadState('load');
      invited = true;
      break;
    }
  }
  expect(invited, 'a family that asked for SMS or e-mail can be invited from its page');
  if (invited) {
    expect((await page.locator('[role=status]').innerText()).includes('L’invitation part'), 'the invitation is sent');
    expect((await page.locator('main').innerText()).includes('Une invitation attend la réponse'), 'it waits for the family');
    await axe(page, 'referral page with a meeting invitation');
    const link = (await page.locator('main').innerText()).match(/\/app\/rendez-vous\/[0-9a-f-]+\/[0-9]+\.[0-9a-f]{64}/);
    expect(Boolean(link), 'the message sent carries the booking link');
    if (link) {
      const family = await newPage();
      await family.setViewportSize({ width: 390, height: 844 });
      await family.goto(`${base}${link[0]}`);
      expect((await family.locator('h1').innerText()).startsWith('Bonjour'), 'the family is greeted by its first name');
      await axe(family, 'booking page');
      await screenshot(family, 'rendez-vous');
      await family.setViewportSize({ width: 390, height: 844 });
      await family.getByRole('button', { name: 'Envoyer ma réponse' }).click();
      expect(await family.locator('input[name=choix]:invalid').count() > 0, 'an answer is required');
      await family.locator('#choix-0').check();
      await family.getByRole('button', { name: 'Envoyer ma réponse' }).click();
      await family.waitForLoadState('load');
      expect((await family.locator('h1').innerText()).includes('C’est noté'), 'the slot is booked');
      expect((await family.locator('[role=status]').innerText()).includes('Votre rendez-vous est le'), 'the day is confirmed');
      await axe(family, 'booking confirmed');
      await family.goto(`${base}${link[0]}`);
      expect((await family.locator('h1').innerText()).includes('plus valable'), 'the link answers once');
      await axe(family, 'booking link used');
      await family.context().close();
      await page.reload();
      expect((await page.locator('main').innerText()).includes('La famille a choisi le'), 'the coordinator sees the booking');
    }
  }
  await page.context().close();
}

// ----- A France Travail referent -----
{
  const page = await newPage();
  await page.goto(`${base}/app/`);
  await signIn(page, 'referent@ft-toulon.demo.avip.example');
  expect(page.url().endsWith('/app/orientations'), `a prescriber lands on her referrals (${page.url()})`);
  expect(await page.locator('h1').innerText() === 'Mes orientations', 'Mes orientations');
  await axe(page, 'prescriber referrals');
  await page.getByRole('link', { name: 'Nouvelle orientation' }).first().click();
  await page.waitForLoadState('load');
  await axe(page, 'referral form');
  await page.getByRole('button', { name: 'Envoyer l’orientation' }).click();
  await page.waitForLoadState('load');
  expect(await page.locator('.field-error').count() >= 10, 'each missing field is named');
  await axe(page, 'referral form with errors');
  const birth = new Date(); birth.setMonth(birth.getMonth() - 14);
  const wanted = new Date(); wanted.setDate(wanted.getDate() + 20);
  await page.locator('#creche_id').selectOption({ index: 1 });
  await page.locator('#parent-first_name').fill('Nadia');
  await page.locator('#parent-last_name').fill('Haddad');
  await page.locator('#parent-phone').fill('06 11 22 33 44');
  await page.locator('#parent-postal_code').fill('83000');
  await page.locator('#parent-commune').fill('Toulon');
  await page.locator('#parent-situation').selectOption('job_seeker');
  await page.locator('#children-0-first_name').fill('Lina');
  await page.locator('#children-0-birth_date').fill(birth.toISOString().slice(0, 10));
  await page.locator('#needs-desired_start_date').fill(wanted.toISOString().slice(0, 10));
  for (const day of ['mon', 'tue']) await page.locator(`#needs-days-${day}`).check();
  await page.locator('#needs-hours-from').fill('06:30');
  await page.locator('#needs-hours-to').fill('17:30');
  // The crèches ranked for Mondays and Tuesdays from the wished start.
  await page.getByRole('button', { name: 'Classer les crèches selon ces besoins' }).click();
  await page.waitForLoadState('load');
  const ranked = await page.locator('#creche_id option').nth(1).innerText();
  expect(/lundi et mardi|fermée|pas de place/.test(ranked), `the choice says what each crèche offers (${ranked})`);
  expect(await page.locator('#needs-days-mon').isChecked(), 'the days are kept');
  await axe(page, 'referral form with ranked crèches');
  await page.setViewportSize({ width: 390, height: 844 });
  const wideForm = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(wideForm <= 0, `the referral form fits 390 px (${wideForm} px too wide)`);
  await axe(page, 'referral form with ranked crèches at 390 px');
  await screenshot(page, 'nouvelle-orientation');
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.locator('#insertion_project-kind').selectOption('training');
  await page.locator('#referent-name').fill('Paul Durand');
  await page.locator('#referent-email').fill('p.durand@example.org');
  await page.locator('#consent-given').check();
  await page.getByRole('button', { name: 'Envoyer l’orientation' }).click();
  await page.waitForLoadState('load');
  expect((await page.locator('[role=status]').innerText()).includes('envoyée à la crèche'),
    `the referral is sent (${page.url()})`);
  expect(await page.getByText('Horaires atypiques').count() > 0, 'atypical hours are visible');
  await page.goto(`${base}/app/places/territoire`);
  await axe(page, 'free places for a prescriber');
  await page.context().close();
}

// ----- The CAF -----
{
  const page = await newPage();
  await page.goto(`${base}/app/`);
  await signIn(page, 'evaluation@caf83.demo.avip.example');
  expect(page.url().endsWith('/app/indicateurs'), `the CAF lands on the indicators (${page.url()})`);
  await axe(page, 'indicators for the CAF');
  await page.context().close();
}

// ----- ProConnect: sign-in through a real OpenID Connect provider -----
if (issuer) {
  const forge = async (mode) => {
    const r = await fetch(`${issuer}/__test__/forge?mode=${mode}`, { method: 'POST' });
    if (!r.ok) throw new Error(`the provider did not take the forge mode ${mode}`);
  };
  // From the sign-in page to the provider, signed in there as `email` when
  // it asks (its session may remember her). With `hold`, the provider's
  // answer is kept from the service and returned: a test sends it itself.
  async function viaProvider(page, email, { hold = false } = {}) {
    if (hold) await forge('hold');
    await page.goto(`${base}/app/connexion`);
    await page.getByRole('button', { name: 'S’identifier avec ProConnect' }).click();
    await page.waitForLoadState('load');
    if (provider(page.url()) && await page.locator('input[name=login]').count() > 0) {
      await page.locator('input[name=login]').fill(email);
      await page.locator('input[name=password]').fill('mot de passe quelconque');
      await page.locator('button[type=submit]').click();
      await page.waitForLoadState('load');
    }
    if (!hold) return null;
    const r = await fetch(`${issuer}/__test__/held`);
    return (await r.json()).held;
  }
  const heading = async (page) => (await page.locator('h1').innerText()).trim();
  async function signedIn(page) {
    await page.goto(`${base}/app/a-traiter`);
    return page.url().endsWith('/app/a-traiter');
  }
  const coordinator = 'coordination@toulon.demo.avip.example';

  // A known coordinator lands on her worklist; signing out ends both sessions.
  {
    const page = await newPage();
    const asked = [];
    page.on('request', (r) => {
      if (r.url().startsWith(`${issuer}/auth?`)) asked.push(new URL(r.url()).searchParams);
    });
    await page.goto(`${base}/app/connexion`);
    await axe(page, 'sign-in with the ProConnect button');
    await viaProvider(page, coordinator);
    expect(page.url().endsWith('/app/a-traiter') && await heading(page) === 'À traiter',
      `ProConnect: a known coordinator lands on her worklist (${page.url()})`);
    // What ProConnect asks of the authorization request.
    const p = asked[0];
    expect(p && p.get('response_type') === 'code' && p.get('code_challenge_method') === 'S256'
      && p.get('code_challenge')?.length === 43 && p.get('state')?.length >= 32
      && p.get('nonce')?.length >= 32 && p.get('scope') === 'openid email given_name usual_name siret uid',
      `ProConnect: code flow, PKCE S256, state and nonce of 32 characters or more (${p})`);
    await page.getByRole('button', { name: 'Se déconnecter' }).click();
    await page.waitForLoadState('load');
    expect(provider(page.url()), `ProConnect: sign-out goes through the provider (${page.url()})`);
    await page.getByRole('button', { name: 'Yes, sign me out' }).click();
    await page.waitForLoadState('load');
    expect(page.url().endsWith('/app/connexion?fin=1'), `ProConnect: back from the provider's sign-out (${page.url()})`);
    expect((await page.locator('[role=status]').innerText()).includes('déconnecté'), 'ProConnect: signed out');
    expect(!(await signedIn(page)), 'ProConnect: the workspace session has ended');
    // The provider's session has ended too: it asks who she is again.
    await page.goto(`${base}/app/connexion`);
    await page.getByRole('button', { name: 'S’identifier avec ProConnect' }).click();
    await page.waitForLoadState('load');
    expect(provider(page.url()) && await page.locator('input[name=login]').count() === 1,
      `ProConnect: the provider's session has ended too (${page.url()})`);
    await page.context().close();
  }

  // An e-mail nobody has here is refused, with whom to ask.
  {
    const page = await newPage();
    await viaProvider(page, 'agent.inconnu@example.gouv.fr');
    expect(await heading(page) === 'Aucun compte pour cette identité',
      `ProConnect: an unknown e-mail is refused (${await heading(page)})`);
    expect((await page.locator('main').innerText()).includes('administrateur AVIP'), 'ProConnect: whom to ask');
    await axe(page, 'ProConnect refusal');
    expect(!(await signedIn(page)), 'ProConnect: no session for an unknown e-mail');
    await page.context().close();
  }

  // She cancels at the provider: its error comes back, shown in French.
  {
    const page = await newPage();
    await page.goto(`${base}/app/connexion`);
    await page.getByRole('button', { name: 'S’identifier avec ProConnect' }).click();
    await page.waitForLoadState('load');
    await page.getByRole('link', { name: '[ Cancel ]' }).click();
    await page.waitForLoadState('load');
    expect(await heading(page) === 'Connexion impossible'
      && (await page.locator('main').innerText()).includes('annulée'),
      `ProConnect: the provider's error is shown in French (${page.url()}: ${await heading(page)})`);
    expect((await page.locator('main').innerText()).includes('access_denied'), 'ProConnect: with its code');
    await axe(page, 'ProConnect error');
    expect(!(await signedIn(page)), 'ProConnect: no session after a cancel');
    await page.context().close();
  }

  // A wrong state, then the right answer once, then the same answer again.
  {
    const page = await newPage();
    const answer = await viaProvider(page, coordinator, { hold: true });
    expect(answer && new URL(answer).searchParams.get('code'), `ProConnect: the provider answered with a code (${answer})`);
    const wrong = new URL(answer);
    wrong.searchParams.set('state', 'x'.repeat(43));
    await page.goto(wrong.toString());
    expect(await heading(page) === 'Connexion refusée', `ProConnect: a wrong state is refused (${await heading(page)})`);
    expect(!(await signedIn(page)), 'ProConnect: no session after a wrong state');

    // The right state, once more from the start (the wrong one ended the
    // attempt in this browser), then the same answer replayed.
    const second = await viaProvider(page, coordinator, { hold: true });
    await page.goto(second);
    expect(page.url().endsWith('/app/a-traiter'), `ProConnect: the genuine answer signs in (${page.url()})`);
    await page.context().clearCookies();
    await page.goto(second);
    expect(await heading(page) === 'Connexion refusée',
      `ProConnect: a replayed answer is refused (${page.url()})`);
    expect(!(await signedIn(page)), 'ProConnect: no session from a replayed answer');

    // A used code under a new, genuine state: the provider refuses it.
    const third = await viaProvider(page, coordinator, { hold: true });
    const replayed = new URL(third);
    replayed.searchParams.set('code', new URL(second).searchParams.get('code'));
    await page.goto(replayed.toString());
    expect(await heading(page) === 'Connexion refusée', `ProConnect: a replayed code is refused (${await heading(page)})`);
    expect(!(await signedIn(page)), 'ProConnect: no session from a replayed code');
    await page.context().close();
  }

  // Her organisation requires ProConnect and records a SIRET: her password
  // opens nothing; the provider's SIRET must be the recorded one.
  {
    const api = async (method, path, token, body) => {
      const r = await fetch(`${base}/api/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: body && JSON.stringify(body),
      });
      if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
      return r.json();
    };
    const token = async (email) => {
      const r = await fetch(`${base}/api/v1/auth/token`, {
        method: 'POST',
        body: new URLSearchParams({ grant_type: 'password', username: email, password: PASSWORD }),
      });
      return (await r.json()).access_token;
    };
    const admin = await token('admin@demo.avip.example');
    const org = (await api('GET', '/me', await token(coordinator))).organization.id;
    const set = (body) => api('PATCH', `/organizations/${org}`, admin, body);
    await set({ oidc_required: true, siret: '21830137000015' });
    const page = await newPage();
    await page.goto(`${base}/app/connexion`);
    await signIn(page, coordinator);
    expect((await page.locator('[role=alert]').innerText()).includes('vous connecter avec ProConnect'),
      'ProConnect required: the password is refused, and she is told to use ProConnect');
    await viaProvider(page, coordinator);
    expect(await heading(page) === 'Aucun compte pour cette identité'
      && (await page.locator('main').innerText()).includes('SIRET'),
      `ProConnect: another SIRET than the organisation's is refused (${await heading(page)})`);
    await set({ siret: '13000548100010' });
    await viaProvider(page, coordinator);
    expect(page.url().endsWith('/app/a-traiter'), `ProConnect required: she signs in through it (${page.url()})`);
    await set({ oidc_required: false, siret: null });
    await page.context().close();
  }

  // Forged answers of the provider: each is refused, and nobody is signed in.
  for (const [mode, what] of [
    ['nonce', 'an id_token with another nonce'],
    ['key', 'an id_token signed by another key'],
    ['audience', 'an id_token for another client'],
    ['expired', 'an expired id_token'],
    ['issuer', 'an id_token from another issuer'],
    ['userinfo', 'a userinfo answer signed by another key'],
  ]) {
    const page = await newPage();
    await forge(mode);
    await viaProvider(page, coordinator);
    expect(await heading(page) === 'Connexion refusée', `ProConnect: ${what} is refused (${await heading(page)})`);
    expect(!(await signedIn(page)), `ProConnect: no session from ${what}`);
    await page.context().close();
  }
  await forge('');

  // The provider rotates its keys: the service reads them again (at most
  // every 10 seconds, hence the wait) and she gets in.
  {
    await new Promise((resolve) => setTimeout(resolve, 11_000));
    const page = await newPage();
    await forge('rotate');
    await viaProvider(page, coordinator);
    expect(page.url().endsWith('/app/a-traiter'),
      `ProConnect: after a rotation of the provider's keys she still gets in (${page.url()}: ${await heading(page)})`);
    await page.context().close();
  }
}

await browser.close();
console.log(`axe-core checked ${checked.length} pages: ${checked.join(', ')}`);
if (failures.length > 0) {
  console.error(`${failures.length} failure(s)`);
  process.exit(1);
}
console.log('the workspace passed in the browser');
