//! The web workspace over real HTTP, as a browser speaks to it: the session
//! cookie, CSRF tokens, redirects, forms and the French pages. What a person
//! sees and clicks is tested in a real browser by `scripts/browser`.

use avip_tests::{TestApp, spawn_app};
use chrono::Duration;
use diesel::RunQueryDsl;
use serde_json::{Value, json};

use crate::referrals::{PASSWORD, Territory, id, new_referral, territory, today};

/// A browser without JavaScript: it keeps the session cookie and does not
/// follow redirects, so that each one can be checked.
struct Browser {
    /// The instance it talks to.
    base: String,
    client: reqwest::Client,
    cookies: Vec<(String, String)>,
}

struct Page {
    status: u16,
    location: Option<String>,
    set_cookie: Vec<String>,
    body: String,
}

impl Browser {
    fn new(app: &TestApp) -> Browser {
        Browser::on(app.port)
    }

    /// A browser talking to the instance on `port`.
    fn on(port: u16) -> Browser {
        Browser {
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: Vec::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn read(&mut self, response: reqwest::Response) -> Page {
        let set_cookie: Vec<String> = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        for c in &set_cookie {
            let pair = c.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.retain(|(k, _)| k != name);
            if !value.is_empty() && !c.contains("Max-Age=0") {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
        Page {
            status: response.status().as_u16(),
            location: response
                .headers()
                .get("location")
                .map(|v| v.to_str().unwrap().to_owned()),
            set_cookie,
            body: response.text().await.unwrap(),
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        let response = self.send_get(path).await;
        self.read(response).await
    }

    /// `GET path` with the session's cookies.
    async fn send_get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap()
    }

    /// A download: its status, content type and bytes.
    async fn get_bytes(&mut self, path: &str) -> (u16, String, Vec<u8>) {
        let response = self.send_get(path).await;
        let kind = (response.headers().get("content-type"))
            .map(|v| v.to_str().unwrap_or_default().to_owned())
            .unwrap_or_default();
        let status = response.status().as_u16();
        (status, kind, response.bytes().await.unwrap().to_vec())
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.read(response).await
    }

    /// Sends a form with a file, as `<form enctype="multipart/form-data">`.
    async fn upload(&mut self, path: &str, fields: &[(&str, &str)], file: (&str, Vec<u8>)) -> Page {
        let mut form = reqwest::multipart::Form::new();
        for (k, v) in fields {
            form = form.text((*k).to_owned(), (*v).to_owned());
        }
        let part = reqwest::multipart::Part::bytes(file.1).file_name(file.0.to_owned());
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .multipart(form.part("file", part))
            .send()
            .await
            .unwrap();
        self.read(response).await
    }

    /// Signs in through the form; returns the answer to the form.
    async fn sign_in(&mut self, email: &str, password: &str, next: &str) -> Page {
        let form = self.get("/app/connexion").await;
        let token = csrf(&form.body);
        self.post(
            "/app/connexion",
            &[
                ("csrf", &token),
                ("suite", next),
                ("email", email),
                ("password", password),
            ],
        )
        .await
    }
}

/// The referral as the API answers it.
async fn api_referral(app: &TestApp, token: &str, id: &str) -> Value {
    app.expect(token, "GET", &format!("/api/v1/referrals/{id}"), None, 200)
        .await
}

/// The CSRF token a page's forms carry.
fn csrf(html: &str) -> String {
    let start = html
        .find("name=\"csrf\" value=\"")
        .expect("the page has a form with a CSRF token")
        + "name=\"csrf\" value=\"".len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

async fn coordinator_in(app: &TestApp) -> (Territory, Browser) {
    let t = territory(app).await;
    let mut browser = Browser::new(app);
    let page = browser
        .sign_in("c.martin@example.org", PASSWORD, "/app/")
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    (t, browser)
}

#[tokio::test]
async fn sign_in_sets_a_protected_cookie_and_returns_to_the_page_asked_for() {
    let app = spawn_app().await;
    let _t = territory(&app).await;
    let mut browser = Browser::new(&app);

    let asked = browser.get("/app/a-traiter?creche=").await;
    assert_eq!(asked.status, 303);
    assert_eq!(
        asked.location.as_deref(),
        Some("/app/connexion?suite=%2Fapp%2Fa-traiter%3Fcreche%3D")
    );
    let root = browser.get("/").await;
    assert_eq!(root.location.as_deref(), Some("/app/"));

    let wrong = browser
        .sign_in("c.martin@example.org", "not the password", "/app/a-traiter")
        .await;
    assert_eq!(wrong.status, 401);
    assert!(
        wrong
            .body
            .contains("Adresse e-mail ou mot de passe incorrect.")
    );
    assert!(wrong.body.contains("lang=\"fr\""));

    let signed = browser
        .sign_in("c.martin@example.org", PASSWORD, "/app/a-traiter")
        .await;
    assert_eq!(signed.status, 303);
    assert_eq!(signed.location.as_deref(), Some("/app/a-traiter"));
    let session = signed
        .set_cookie
        .iter()
        .find(|c| c.starts_with("avip_session="))
        .expect("a session cookie");
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Lax"), "{session}");
    assert!(
        !session.contains("Secure"),
        "no Secure outside production: {session}"
    );

    let page = browser.get("/app/a-traiter").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<h1>À traiter</h1>"));
    assert!(page.body.contains("Se déconnecter"));

    // Another host is never a destination after sign-in.
    let mut other = Browser::new(&app);
    let away = other
        .sign_in("c.martin@example.org", PASSWORD, "//evil.example/app/")
        .await;
    assert_eq!(away.location.as_deref(), Some("/app/"));
}

#[tokio::test]
async fn pages_refuse_a_form_without_the_session_token() {
    let app = spawn_app().await;
    let (t, mut browser) = coordinator_in(&app).await;
    let r = new_referral(&app, &t.prescriber, &t.creche, "Yanis").await;
    let path = format!("/app/orientations/{}/transition", id(&r));

    let forged = browser
        .post(&path, &[("csrf", "forged"), ("to", "contacted")])
        .await;
    assert_eq!(forged.status, 403);
    assert!(forged.body.contains("Formulaire expiré"));
    let none = browser.post(&path, &[("to", "contacted")]).await;
    assert_eq!(none.status, 403);
    let status = api_referral(&app, &t.coordinator, &id(&r)).await["status"].clone();
    assert_eq!(status, "received", "nothing moved");

    // The sign-in form is protected too (its own cookie and field).
    let mut stranger = Browser::new(&app);
    let page = stranger
        .post(
            "/app/connexion",
            &[
                ("csrf", "x"),
                ("email", "c.martin@example.org"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(page.status, 403);
}

#[tokio::test]
async fn a_coordinator_moves_a_referral_from_its_page_and_reads_refusals_in_french() {
    let app = spawn_app().await;
    let (t, mut browser) = coordinator_in(&app).await;
    let r = new_referral(&app, &t.prescriber, &t.creche, "Yanis").await;
    let page_path = format!("/app/orientations/{}", id(&r));

    let page = browser.get(&page_path).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Amina Benali"));
    assert!(page.body.contains("Réponse attendue avant le"));
    // The family in the heading, its status as a badge, one touch to call
    // or write.
    assert!(
        page.body.contains(&format!(
            "<h1>Amina Benali — orientation {}</h1>",
            r["reference"].as_str().unwrap()
        )),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("<strong class=\"badge st-received\">Reçue</strong>")
    );
    assert!(
        page.body
            .contains("<a href=\"tel:0612345678\">06 12 34 56 78</a>")
    );
    assert!(
        page.body
            .contains("<a href=\"mailto:amina.b@example.org\">amina.b@example.org</a>")
    );
    assert!(page.body.contains("<a href=\"tel:0494000000\">"));
    let token = csrf(&page.body);
    // Exactly the moves the lifecycle allows from `received`.
    for action in [
        "Famille contactée",
        "Proposer une place",
        "Mettre en liste d’attente",
        "Refuser l’orientation",
        "Retirer l’orientation",
    ] {
        assert!(page.body.contains(action), "{action} offered");
    }
    assert!(!page.body.contains("Inscrire l’enfant"));
    assert!(!page.body.contains("Enregistrer la sortie</summary>"));

    let refused = browser
        .post(
            &format!("{page_path}/transition"),
            &[("csrf", &token), ("to", "declined"), ("reason", "other")],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused
        .body
        .contains("<p class=\"field-error\" id=\"transition-note-err\">Expliquez le motif « Autre » dans la note.</p>"));
    assert!(
        refused
            .body
            .contains("aria-describedby=\"transition-note-err\"")
    );

    let moved = browser
        .post(
            &format!("{page_path}/transition"),
            &[
                ("csrf", &token),
                ("to", "contacted"),
                ("note", "appel à la mère"),
            ],
        )
        .await;
    assert_eq!(moved.status, 303);
    assert_eq!(
        moved.location.unwrap(),
        format!("{page_path}?fait=transition")
    );
    let api = api_referral(&app, &t.coordinator, &id(&r)).await;
    assert_eq!(api["status"], "contacted");
    let after = browser.get(&format!("{page_path}?fait=transition")).await;
    assert!(
        after
            .body
            .contains("Le statut de l’orientation a été mis à jour.")
    );
    assert!(
        after.body.contains("appel à la mère"),
        "the note is on the timeline"
    );

    // The page's reads are in the access log, under the coordinator's name.
    let log = app
        .expect(
            &t.admin,
            "GET",
            &format!("/api/v1/access-log?referral_id={}", id(&r)),
            None,
            200,
        )
        .await;
    let operations: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["operation"].as_str().unwrap())
        .collect();
    assert!(operations.contains(&"get_referral"), "{log}");
    assert!(operations.contains(&"timeline"), "{log}");
}

#[tokio::test]
async fn an_enrollment_without_a_free_place_names_the_first_full_day_and_can_be_forced() {
    let app = spawn_app().await;
    let (t, mut browser) = coordinator_in(&app).await;
    let r = new_referral(&app, &t.prescriber, &t.creche, "Yanis").await;
    let rid = id(&r);
    app.expect(
        &t.coordinator,
        "POST",
        &format!("/api/v1/referrals/{rid}/transitions"),
        Some(json!({"to": "offered"})),
        200,
    )
    .await;
    let start = today() + Duration::days(7);
    app.expect(
        &t.admin,
        "POST",
        &format!("/api/v1/creches/{}/capacity", t.creche),
        Some(json!({"from": today().to_string(), "avip_places": 0})),
        201,
    )
    .await;

    let page_path = format!("/app/orientations/{rid}");
    let token = csrf(&browser.get(&page_path).await.body);
    let start_text = start.to_string();
    let base = [
        ("csrf", token.as_str()),
        ("start_date", start_text.as_str()),
        ("days", "mon"),
        ("days", "tue"),
    ];
    let full = browser
        .post(&format!("{page_path}/inscription"), &base)
        .await;
    assert_eq!(full.status, 422, "{}", full.body);
    // The first Monday or Tuesday from the start the crèche opens.
    let first_full = start
        .iter_days()
        .find(|d| {
            use chrono::Datelike;
            crate::places::closed(*d).is_none()
                && matches!(d.weekday(), chrono::Weekday::Mon | chrono::Weekday::Tue)
        })
        .unwrap();
    let weekday = match chrono::Datelike::weekday(&first_full) {
        chrono::Weekday::Mon => "lundi",
        _ => "mardi",
    };
    let day = first_full.format("%d/%m/%Y").to_string();
    assert!(
        full.body
            .contains(&format!("Aucune place AVIP n’est libre le {weekday} {day}")),
        "{}",
        full.body
    );

    let mut forced = base.to_vec();
    forced.push(("force", "true"));
    let without_reason = browser
        .post(&format!("{page_path}/inscription"), &forced)
        .await;
    assert_eq!(without_reason.status, 422);
    assert!(
        without_reason
            .body
            .contains("Expliquez pourquoi l’enfant est accueilli au-delà des places AVIP.")
    );
    forced.push(("force_reason", "accord de la directrice"));
    let enrolled = browser
        .post(&format!("{page_path}/inscription"), &forced)
        .await;
    assert_eq!(enrolled.status, 303, "{}", enrolled.body);
    let api = api_referral(&app, &t.coordinator, &rid).await;
    assert_eq!(api["status"], "enrolled");
    assert_eq!(api["enrollment"]["days"], json!(["mon", "tue"]));
}

#[tokio::test]
async fn a_prescriber_sends_the_referral_form_and_reads_each_error_by_its_field() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let mut browser = Browser::new(&app);
    let signed = browser
        .sign_in("p.durand@example.org", PASSWORD, "/app/")
        .await;
    assert_eq!(signed.status, 303);
    let home = browser.get("/app/").await;
    assert_eq!(home.location.as_deref(), Some("/app/orientations"));
    let form = browser.get("/app/orientations/nouvelle").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("Les Petits Pas"));
    // She is the referent unless she says otherwise.
    let name = app
        .expect(&t.prescriber, "GET", "/api/v1/me", None, 200)
        .await["name"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(form.body.contains(&format!(
        "id=\"referent-name\" name=\"referent.name\" value=\"{name}\""
    )));
    assert!(
        form.body.contains(
            "id=\"referent-email\" name=\"referent.email\" value=\"p.durand@example.org\""
        )
    );
    let token = csrf(&form.body);
    let key = {
        let start = form.body.find("name=\"cle\" value=\"").unwrap() + 18;
        form.body[start..start + 43].to_owned()
    };

    let empty = browser
        .post(
            "/app/orientations/nouvelle",
            &[("csrf", &token), ("cle", &key)],
        )
        .await;
    assert_eq!(empty.status, 422);
    // The summary names each field by its label, in the form's order.
    let creche = empty
        .body
        .find("<a href=\"#creche_id\">Crèche AVIP : Ce champ est obligatoire.</a>")
        .expect("the crèche named first");
    let parent = empty
        .body
        .find("<a href=\"#parent-first_name\">Prénom du parent : ")
        .expect("the parent's first name");
    let consent = empty
        .body
        .find("<a href=\"#consent-date\">Date de l’accord : ")
        .expect("the consent's date");
    assert!(creche < parent && parent < consent, "in the form's order");
    for field in [
        "creche_id",
        "parent-first_name",
        "children-0-birth_date",
        "consent-date",
        "referent-email",
    ] {
        assert!(
            empty
                .body
                .contains(&format!("id=\"{field}-err\">Ce champ est obligatoire.")),
            "{field}: {}",
            empty.body
        );
    }

    let birth = (today() - Duration::days(400)).to_string();
    let start = (today() + Duration::days(10)).to_string();
    let consent = today().to_string();
    let mut fields = vec![
        ("csrf", token.as_str()),
        ("cle", key.as_str()),
        ("creche_id", t.creche.as_str()),
        ("referent.name", "Paul Durand"),
        ("referent.email", "p.durand@example.org"),
        ("parent.first_name", "Amina"),
        ("parent.last_name", "Benali"),
        ("parent.phone", "12"),
        ("parent.postal_code", "83000"),
        ("parent.commune", "Toulon"),
        ("parent.situation", "job_seeker"),
        ("children[0].first_name", "Yanis"),
        ("children[0].birth_date", birth.as_str()),
        ("needs.desired_start_date", start.as_str()),
        ("needs.days", "mon"),
        ("needs.days", "tue"),
        ("needs.hours.from", "06:30"),
        ("needs.hours.to", "17:30"),
        ("insertion_project.kind", "training"),
        ("consent.date", consent.as_str()),
    ];
    // "Classer les crèches": the choice comes ranked for the family's days,
    // and nothing is sent.
    let mut rank = fields.clone();
    rank.push(("classer", "1"));
    let ranked = browser.post("/app/orientations/nouvelle", &rank).await;
    assert_eq!(ranked.status, 200, "{}", ranked.body);
    let first_day = {
        let start: chrono::NaiveDate = start.parse().unwrap();
        start.format("%d/%m").to_string()
    };
    assert!(
        ranked.body.contains(&format!(
            "Les Petits Pas (Toulon) — 6 places libres lundi et mardi dès le {first_day}"
        )),
        "{}",
        ranked.body
    );
    let invalid = browser.post("/app/orientations/nouvelle", &fields).await;
    assert_eq!(invalid.status, 422);
    assert!(
        invalid
            .body
            .contains("id=\"parent-phone-err\">Ce n’est pas un numéro de téléphone français"),
        "{}",
        invalid.body
    );
    assert!(
        invalid
            .body
            .contains("id=\"consent-given-err\">Le consentement de la famille"),
        "{}",
        invalid.body
    );
    assert!(
        invalid.body.contains("value=\"Amina\""),
        "what was typed is kept"
    );

    fields.retain(|(k, _)| *k != "parent.phone");
    fields.push(("parent.phone", "06 12 34 56 78"));
    fields.push(("consent.given", "true"));
    let sent = browser.post("/app/orientations/nouvelle", &fields).await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    let location = sent.location.unwrap();
    assert!(location.ends_with("?fait=creee"), "{location}");
    // The same form sent twice (a double click) is one referral.
    let again = browser.post("/app/orientations/nouvelle", &fields).await;
    assert_eq!(again.status, 303);
    assert_eq!(again.location.unwrap(), location);
    let list = app
        .expect(&t.prescriber, "GET", "/api/v1/referrals", None, 200)
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        list["items"][0]["needs"]["atypical_hours"], true,
        "before 07:00"
    );
    assert_eq!(list["items"][0]["needs"]["days"], json!(["mon", "tue"]));

    let page = browser.get(&location).await;
    assert!(page.body.contains("L’orientation est envoyée à la crèche"));
    assert!(page.body.contains("Horaires atypiques"));
    let mine = browser.get("/app/orientations").await;
    assert!(mine.body.contains("<h1>Mes orientations</h1>"));
    assert!(mine.body.contains("Amina Benali"));
}

#[tokio::test]
async fn sessions_survive_a_restart_and_work_on_every_instance() {
    let app = spawn_app().await;
    let (_t, browser) = coordinator_in(&app).await;
    let cookies = browser.cookies.clone();

    // A second instance on the same database knows the session, and a
    // form opened on one instance is accepted by the other.
    let (handle, port) = app.another_instance_on_a_port(|_| {}, false).await;
    let mut second = Browser::on(port);
    second.cookies = cookies.clone();
    let page = second.get("/app/a-traiter").await;
    assert_eq!(page.status, 200, "the other instance knows the session");
    let token = csrf(&page.body);
    let mut first = Browser::new(&app);
    first.cookies = cookies.clone();
    let out = first.post("/app/deconnexion", &[("csrf", &token)]).await;
    assert_eq!(
        out.status, 303,
        "the token of one instance's page is valid on the other"
    );
    let after = second.get("/app/a-traiter").await;
    assert_eq!(after.status, 303, "signed out on one, signed out on both");
    handle.stop(true).await;

    // A session opened before a restart is still open after it.
    let mut browser = Browser::new(&app);
    browser
        .sign_in("c.martin@example.org", PASSWORD, "/app/")
        .await;
    let cookies_after = browser.cookies.clone();
    assert_ne!(cookies_after, cookies);
    let app = app.restart(|_| {}, false).await;
    let mut again = Browser::new(&app);
    again.cookies = cookies_after;
    let page = again.get("/app/a-traiter").await;
    assert_eq!(page.status, 200, "the session outlives the process");
}

#[tokio::test]
async fn a_prescriber_withdraws_her_referral_and_adds_a_note_and_a_follow_up() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let r = new_referral(&app, &t.prescriber, &t.creche, "Yanis").await;
    let path = format!("/app/orientations/{}", id(&r));
    let mut browser = Browser::new(&app);
    browser
        .sign_in("p.durand@example.org", PASSWORD, "/app/")
        .await;
    let page = browser.get(&path).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Retirer l’orientation"));
    assert!(
        !page.body.contains("Famille contactée</button>"),
        "a prescriber does not answer for the crèche"
    );
    let token = csrf(&page.body);

    let note = browser
        .post(
            &format!("{path}/note"),
            &[
                ("csrf", &token),
                ("note", "la maman a trouvé une formation"),
            ],
        )
        .await;
    assert_eq!(note.status, 303);
    let date = today().to_string();
    let missing = browser
        .post(
            &format!("{path}/suivi"),
            &[
                ("csrf", &token),
                ("date", &date),
                ("employment_status", "training"),
            ],
        )
        .await;
    assert_eq!(missing.status, 422);
    assert!(
        missing
            .body
            .contains("id=\"suivi-participants-err\">Cochez au moins un participant."),
        "{}",
        missing.body
    );
    let follow_up = browser
        .post(
            &format!("{path}/suivi"),
            &[
                ("csrf", &token),
                ("date", &date),
                ("participants", "referent"),
                ("participants", "parent"),
                ("employment_status", "training"),
            ],
        )
        .await;
    assert_eq!(follow_up.status, 303);
    let withdrawn = browser
        .post(
            &format!("{path}/retrait"),
            &[
                ("csrf", &token),
                ("to", "withdrawn"),
                ("reason", "other_childcare_found"),
            ],
        )
        .await;
    assert_eq!(withdrawn.status, 303);

    let api = api_referral(&app, &t.prescriber, &id(&r)).await;
    assert_eq!(api["status"], "withdrawn");
    assert_eq!(api["closing_reason"], "other_childcare_found");
    let follow_ups = app
        .expect(
            &t.prescriber,
            "GET",
            &format!("/api/v1/referrals/{}/follow-ups", id(&r)),
            None,
            200,
        )
        .await;
    assert_eq!(
        follow_ups["items"][0]["participants"],
        json!(["referent", "parent"])
    );
    let closed = browser.get(&path).await;
    assert!(closed.body.contains("Autre mode de garde trouvé"));
    assert!(closed.body.contains("la maman a trouvé une formation"));
    assert!(
        !closed.body.contains("Retirer l’orientation"),
        "nothing left to do on a closed referral"
    );
}

#[tokio::test]
async fn an_expired_session_sends_to_sign_in_then_back_to_the_page() {
    let app = spawn_app().await;
    let (t, mut browser) = coordinator_in(&app).await;
    let rid = id(&new_referral(&app, &t.prescriber, &t.creche, "Yanis").await);
    let token = csrf(&browser.get(&format!("/app/orientations/{rid}")).await.body);
    let mut conn = app.db.connect();
    diesel::sql_query("UPDATE web_sessions SET expires_at = created_at")
        .execute(&mut conn)
        .unwrap();
    // A form sent after the end: back to its page after signing in (the
    // browser's script puts back what was typed; see scripts/browser).
    let sent = browser
        .post(
            &format!("/app/orientations/{rid}/note"),
            &[("csrf", &token), ("note", "appel de la maman")],
        )
        .await;
    assert_eq!(sent.status, 303);
    assert_eq!(
        sent.location,
        Some(format!(
            "/app/connexion?suite=%2Fapp%2Forientations%2F{rid}"
        ))
    );
    let page = browser.get("/app/places?mois=2026-12").await;
    assert_eq!(page.status, 303);
    assert_eq!(
        page.location.as_deref(),
        Some("/app/connexion?suite=%2Fapp%2Fplaces%3Fmois%3D2026-12")
    );
    let form = browser.get(page.location.as_deref().unwrap()).await;
    assert!(form.body.contains("Connectez-vous pour ouvrir cette page."));
    assert!(form.body.contains("value=\"/app/places?mois=2026-12\""));
    let back = browser
        .sign_in("c.martin@example.org", PASSWORD, "/app/places?mois=2026-12")
        .await;
    assert_eq!(back.location.as_deref(), Some("/app/places?mois=2026-12"));
    assert_eq!(browser.get("/app/places?mois=2026-12").await.status, 200);
}

#[tokio::test]
async fn disabling_a_person_or_changing_her_password_ends_her_sessions_at_once() {
    let app = spawn_app().await;
    let (t, _) = coordinator_in(&app).await;
    let users = app
        .expect(&t.admin, "GET", "/api/v1/users?limit=100", None, 200)
        .await;
    let coordinator: &Value = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "c.martin@example.org")
        .unwrap();
    let path = format!("/api/v1/users/{}", coordinator["id"].as_str().unwrap());

    // A new password: sessions opened before it end, even within the same
    // second as the change (each session records the credentials' number).
    let millis = chrono::Utc::now().timestamp_subsec_millis();
    if millis > 20 {
        tokio::time::sleep(std::time::Duration::from_millis(u64::from(1000 - millis))).await;
    }
    let mut browser = Browser::new(&app);
    let signed = browser
        .sign_in("c.martin@example.org", PASSWORD, "/app/")
        .await;
    assert_eq!(signed.status, 303);
    assert_eq!(browser.get("/app/a-traiter").await.status, 200);
    app.expect(
        &t.admin,
        "PATCH",
        &path,
        Some(json!({"password": "another long passphrase"})),
        200,
    )
    .await;
    let page = browser.get("/app/a-traiter").await;
    assert_eq!(page.status, 303, "signed out by the new password");

    let signed = browser
        .sign_in("c.martin@example.org", "another long passphrase", "/app/")
        .await;
    assert_eq!(signed.status, 303);
    assert_eq!(browser.get("/app/a-traiter").await.status, 200);
    app.expect(
        &t.admin,
        "PATCH",
        &path,
        Some(json!({"active": false})),
        200,
    )
    .await;
    let page = browser.get("/app/a-traiter").await;
    assert_eq!(page.status, 303);
    assert!(page.location.unwrap().starts_with("/app/connexion?suite="));
    // Enabled again: the sessions of before stay ended.
    app.expect(&t.admin, "PATCH", &path, Some(json!({"active": true})), 200)
        .await;
    assert_eq!(
        browser.get("/app/a-traiter").await.status,
        303,
        "re-enabled"
    );
    // An administrator's sign-out everywhere ends a session too.
    let signed = browser
        .sign_in("c.martin@example.org", "another long passphrase", "/app/")
        .await;
    assert_eq!(signed.status, 303);
    assert_eq!(browser.get("/app/a-traiter").await.status, 200);
    let out = app
        .call(&t.admin, "POST", &format!("{path}/sign-out"), None)
        .await;
    assert_eq!(out.status(), 204);
    assert_eq!(
        browser.get("/app/a-traiter").await.status,
        303,
        "signed out everywhere"
    );
}

#[tokio::test]
async fn signing_out_ends_the_session_and_each_role_sees_only_its_pages() {
    let app = spawn_app().await;
    let (_t, mut coordinator) = coordinator_in(&app).await;
    let page = coordinator.get("/app/a-traiter").await;
    let token = csrf(&page.body);
    let stolen = coordinator.cookies.clone();
    let out = coordinator
        .post("/app/deconnexion", &[("csrf", &token)])
        .await;
    assert_eq!(out.status, 303);
    assert_eq!(out.location.as_deref(), Some("/app/connexion?fin=1"));
    let mut replay = Browser::new(&app);
    replay.cookies = stolen;
    assert_eq!(
        replay.get("/app/a-traiter").await.status,
        303,
        "the old cookie opens nothing"
    );

    let mut caf = Browser::new(&app);
    caf.sign_in("analyste@caf.example.org", PASSWORD, "/app/")
        .await;
    assert_eq!(
        caf.get("/app/").await.location.as_deref(),
        Some("/app/indicateurs")
    );
    let indicators = caf.get("/app/indicateurs").await;
    assert_eq!(indicators.status, 200);
    assert_eq!(indicators.body.matches("<svg class=\"chart\"").count(), 4);
    assert_eq!(caf.get("/app/a-traiter").await.status, 403);
    assert_eq!(caf.get("/app/orientations").await.status, 403);
    let csv = caf.get("/app/indicateurs?format=csv").await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.body
            .starts_with("\u{feff}Groupe;Libellé;Orientations reçues"),
        "{}",
        csv.body
    );
}

#[tokio::test]
async fn a_coordinator_previews_her_bilan_and_downloads_it_in_word_and_excel() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let mut browser = Browser::new(&app);
    browser
        .sign_in("c.martin@example.org", PASSWORD, "/app/")
        .await;
    let page = browser.get("/app/bilan").await;
    assert_eq!(page.status, 200);
    let year = avip_tests::today().format("%Y").to_string();
    assert!(
        page.body.contains(&format!("value=\"{year}-01-01\"")),
        "this year by default"
    );
    for part in [
        "Synthèse",
        "Orientations reçues",
        "Places AVIP et occupation",
        "Actions menées",
        "Méthode",
    ] {
        assert!(page.body.contains(part), "{part}");
    }
    // Her scopes: all her crèches, her operator, her crèche; not another's.
    assert!(page.body.contains("Toutes mes crèches"));
    assert!(page.body.contains("Gestionnaire Ville de Toulon"));
    let choice = format!("creche:{}", t.creche);
    assert!(page.body.contains(&choice));
    assert!(!page.body.contains("Les Lucioles"));
    let chosen = browser
        .get(&format!(
            "/app/bilan?du={year}-01-01&au={year}-12-31&perimetre={choice}"
        ))
        .await;
    assert_eq!(chosen.status, 200);
    assert!(chosen.body.contains("Crèche Les Petits Pas"));
    assert!(chosen.body.contains("<svg class=\"chart\""), "the charts");
    for (format, kind) in [("docx", "wordprocessingml"), ("xlsx", "spreadsheetml")] {
        // The page's own link (its `&` escaped in the HTML).
        let start = format!("href=\"/app/bilan?format={format}");
        let at = chosen.body.find(&start).expect("a download link") + 6;
        let link = chosen.body[at..]
            .split('"')
            .next()
            .unwrap()
            .replace("&#38;", "&");
        assert!(link.contains(&format!("du={year}-01-01")), "{link}");
        assert!(
            link.contains(&format!("perimetre=creche%3A{}", t.creche)),
            "{link}"
        );
        let file = browser.get_bytes(&link).await;
        assert_eq!(file.0, 200, "{format}");
        assert!(file.1.contains(kind), "{format}: {}", file.1);
        assert_eq!(&file.2[..2], b"PK", "{format} is a zip");
    }
    // Another operator's crèche: not found; a bad period: said in French.
    let other = format!("/app/bilan?perimetre=creche:{}", t.other_creche);
    assert_eq!(browser.get(&other).await.status, 404);
    let bad = browser.get("/app/bilan?du=2026-05-01&au=2026-01-01").await;
    assert_eq!(bad.status, 200);
    assert!(
        bad.body
            .contains("La fin de la période doit suivre son début.")
    );
    assert!(
        !bad.body.contains("Synthèse"),
        "no figures for a wrong period"
    );
}

/// The id of the organisation called `name`.
async fn organization_named(app: &TestApp, admin: &str, name: &str) -> String {
    let list = app
        .expect(admin, "GET", "/api/v1/organizations?limit=200", None, 200)
        .await;
    let found = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == name)
        .expect("the organisation");
    id(found)
}

#[tokio::test]
async fn without_a_provider_there_is_no_proconnect_button_and_no_organisation_may_require_it() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let mut browser = Browser::new(&app);
    let form = browser.get("/app/connexion").await;
    assert_eq!(form.status, 200);
    assert!(!form.body.contains("ProConnect"), "{}", form.body);
    assert_eq!(browser.get("/app/connexion/proconnect").await.status, 404);
    assert_eq!(
        browser
            .get("/app/connexion/proconnect/retour?code=a&state=b")
            .await
            .status,
        404
    );
    let org = organization_named(&app, &t.admin, "Ville de Toulon").await;
    let problem = app
        .expect(
            &t.admin,
            "PATCH",
            &format!("/api/v1/organizations/{org}"),
            Some(json!({"oidc_required": true})),
            422,
        )
        .await;
    assert_eq!(problem["errors"][0]["field"], "oidc_required", "{problem}");
    // Nobody but an admin may ask.
    app.expect(
        &t.coordinator,
        "PATCH",
        &format!("/api/v1/organizations/{org}"),
        Some(json!({"oidc_required": true})),
        403,
    )
    .await;
}

#[tokio::test]
async fn an_organisation_that_requires_proconnect_refuses_its_peoples_passwords() {
    // A provider that does not answer: the button is there, a sign-in
    // through it ends on a French page, never a 500.
    let silent = format!("http://127.0.0.1:{}", avip_tests::served::free_port());
    let app = avip_tests::spawn_app_with(|env| {
        env.insert("AVIP_OIDC_ISSUER".into(), silent.clone());
        env.insert("AVIP_OIDC_CLIENT_ID".into(), "avip".into());
        env.insert("AVIP_OIDC_CLIENT_SECRET".into(), "a client secret".into());
    })
    .await;
    let t = territory(&app).await;
    let mut browser = Browser::new(&app);
    let form = browser.get("/app/connexion?suite=%2Fapp%2Fplaces").await;
    assert!(
        form.body.contains("S’identifier avec ProConnect"),
        "{}",
        form.body
    );
    let csp = app
        .get("/app/connexion")
        .await
        .headers()
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains(&format!("form-action 'self' {silent};")),
        "the sign-out form may lead to the provider: {csp}"
    );
    use crate::metrics::{scrape, value};
    let (unavailable, refused) = (
        "avip_oidc_sign_ins_total{outcome=\"unavailable\"}",
        "avip_oidc_sign_ins_total{outcome=\"refused\"}",
    );
    let before = scrape(&app).await;
    let down = browser
        .get("/app/connexion/proconnect?suite=%2Fapp%2Fplaces")
        .await;
    assert_eq!(down.status, 502, "{}", down.body);
    assert!(
        down.body.contains("ProConnect ne répond pas"),
        "{}",
        down.body
    );
    // An answer no sign-in of this browser started.
    let forged = browser
        .get("/app/connexion/proconnect/retour?code=a&state=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")
        .await;
    assert_eq!(forged.status, 400, "{}", forged.body);
    assert!(forged.body.contains("Connexion refusée"), "{}", forged.body);
    let nothing = browser.get("/app/connexion/proconnect/retour").await;
    assert_eq!(nothing.status, 400, "{}", nothing.body);
    // The operator sees them counted (other tests of this process may add
    // to the same counters).
    let after = scrape(&app).await;
    assert!(value(&after, unavailable) >= value(&before, unavailable) + 1.0);
    assert!(value(&after, refused) >= value(&before, refused) + 2.0);

    // The coordinator's organisation requires ProConnect: her password
    // opens nothing, neither a token nor a session; others' still do.
    let org = organization_named(&app, &t.admin, "Ville de Toulon").await;
    let path = format!("/api/v1/organizations/{org}");
    let bad = app
        .expect(
            &t.admin,
            "PATCH",
            &path,
            Some(json!({"siret": "1300054810001"})),
            422,
        )
        .await;
    assert_eq!(bad["errors"][0]["field"], "siret", "{bad}");
    let changed = app
        .expect(
            &t.admin,
            "PATCH",
            &path,
            Some(json!({"oidc_required": true, "siret": "130 005 481 00010"})),
            200,
        )
        .await;
    assert_eq!(changed["oidc_required"], true);
    assert_eq!(changed["siret"], "13000548100010");
    let refused = app.password_grant("c.martin@example.org", PASSWORD).await;
    assert_eq!(refused.status(), 400);
    let problem: Value = refused.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("OpenID Connect"),
        "{problem}"
    );
    let page = Browser::new(&app)
        .sign_in("c.martin@example.org", PASSWORD, "/app/")
        .await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(
        page.body
            .contains("Votre organisation demande de vous connecter avec ProConnect")
    );
    assert_eq!(
        app.password_grant("b.roux@example.org", PASSWORD)
            .await
            .status(),
        200,
        "another organisation's coordinator"
    );

    // Back to passwords.
    let changed = app
        .expect(
            &t.admin,
            "PATCH",
            &path,
            Some(json!({"oidc_required": false, "siret": null})),
            200,
        )
        .await;
    assert_eq!(changed["siret"], Value::Null);
    assert_eq!(
        app.password_grant("c.martin@example.org", PASSWORD)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn a_proconnect_attempt_is_taken_once_and_never_after_it_expires() {
    use avip_db::oidc_attempts::{self, OidcAttempt};
    let app = spawn_app().await;
    let mut conn = app.db.connect();
    let now = avip_db::model::to_db_time(chrono::Utc::now());
    let attempt = |hash: &str, expires_at| OidcAttempt {
        state_hash: hash.into(),
        nonce: "n".repeat(43),
        pkce_verifier: "v".repeat(43),
        next: "/app/".into(),
        expires_at,
    };
    oidc_attempts::insert(&mut conn, &attempt("a", now + Duration::minutes(10)), now).unwrap();
    oidc_attempts::insert(&mut conn, &attempt("late", now + Duration::minutes(1)), now).unwrap();
    let taken = oidc_attempts::take(&mut conn, "a", now).unwrap();
    assert_eq!(taken, Some(attempt("a", now + Duration::minutes(10))));
    assert_eq!(
        oidc_attempts::take(&mut conn, "a", now).unwrap(),
        None,
        "a replay finds nothing"
    );
    assert_eq!(
        oidc_attempts::take(&mut conn, "late", now + Duration::minutes(2)).unwrap(),
        None,
        "an expired attempt is refused"
    );
    // Expired attempts are forgotten at the next one.
    oidc_attempts::insert(&mut conn, &attempt("old", now - Duration::minutes(1)), now).unwrap();
    oidc_attempts::insert(&mut conn, &attempt("b", now + Duration::minutes(10)), now).unwrap();
    let left: i64 = diesel::QueryDsl::count(avip_db::schema::oidc_attempts::table)
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(left, 1);
}

/// A control character in a form field or a page's query string is a 400
/// page naming the field, on both backends (PostgreSQL would refuse a NUL,
/// SQLite store it).
#[tokio::test]
async fn a_nul_byte_in_a_form_or_a_query_is_refused_naming_the_field() {
    let app = spawn_app().await;
    let (_t, mut browser) = coordinator_in(&app).await;
    let mut visitor = Browser::new(&app);
    let page = visitor
        .sign_in("c.martin@example.org\u{0}", PASSWORD, "/app/")
        .await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("« email »"), "{}", page.body);
    let page = visitor.get("/app/connexion?suite=/app/%00").await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("« suite »"), "{}", page.body);
    let page = browser.get("/app/orientations?statut=received%07").await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("« statut »"), "{}", page.body);
    // Signed in normally, nothing else changed.
    assert_eq!(browser.get("/app/a-traiter").await.status, 200);
}

/// The role matrix, through the pages: each role opens exactly the sections
/// the rules allow it (the same as the API's: a coordinator and an admin
/// what awaits action, everyone but the CAF the referrals and the places,
/// only a prescriber the referral form, everyone but a prescriber the
/// indicators), its navigation lists exactly those, and its home page is
/// the first of them.
#[tokio::test]
async fn each_role_opens_and_is_shown_exactly_the_sections_the_rules_allow() {
    let app = spawn_app().await;
    let _t = territory(&app).await;
    let sections = [
        "/app/a-traiter",
        "/app/orientations",
        "/app/orientations/nouvelle",
        "/app/liste-attente",
        "/app/places",
        "/app/places/territoire",
        "/app/indicateurs",
        "/app/bilan",
        "/app/import",
    ];
    let matrix: [(&str, &str, [bool; 9], &str); 4] = [
        (
            avip_tests::ADMIN_EMAIL,
            avip_tests::ADMIN_PASSWORD,
            [true, true, false, true, true, true, true, true, true],
            "/app/a-traiter",
        ),
        (
            "c.martin@example.org",
            PASSWORD,
            [true, true, false, true, true, true, true, true, true],
            "/app/a-traiter",
        ),
        (
            "p.durand@example.org",
            PASSWORD,
            [false, true, true, false, true, true, false, false, false],
            "/app/orientations",
        ),
        (
            "analyste@caf.example.org",
            PASSWORD,
            [false, false, false, false, false, false, true, true, false],
            "/app/indicateurs",
        ),
    ];
    for (email, password, open, home) in matrix {
        let mut browser = Browser::new(&app);
        let signed = browser.sign_in(email, password, "/app/").await;
        assert_eq!(signed.status, 303, "{email}: {}", signed.body);
        assert_eq!(
            browser.get("/app/").await.location.as_deref(),
            Some(home),
            "{email}"
        );
        let first = browser.get(home).await;
        assert_eq!(first.status, 200, "{email} {home}");
        for (path, may) in sections.iter().zip(open) {
            let page = browser.get(path).await;
            let expected = if may { 200 } else { 403 };
            assert_eq!(page.status, expected, "{email} opens {path}");
            let listed = first.body.contains(&format!("<li><a href=\"{path}\""));
            assert_eq!(listed, may, "{email}: {path} in the navigation");
        }
    }
}

#[tokio::test]
async fn the_planning_and_a_referral_page_speak_of_the_week() {
    let app = spawn_app().await;
    let (t, mut browser) = coordinator_in(&app).await;
    let mut body = crate::referrals::referral(&t.creche, "Yanis");
    body["needs"] = json!({"desired_start_date": (today() + Duration::days(10)).to_string(),
        "days": ["mon", "tue"], "hours": {"from": "08:00", "to": "17:00"}});
    let r = crate::referrals::create(&app, &t.prescriber, "/api/v1/referrals", body).await;
    let page = browser.get(&format!("/app/orientations/{}", id(&r))).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Jours souhaités"), "{}", page.body);
    assert!(page.body.contains("lundi, mardi"), "{}", page.body);
    assert!(page.body.contains("de 8 h à 17 h"), "{}", page.body);
    // The other crèche of the département, free on those days.
    assert!(
        page.body.contains("Ailleurs sur le territoire"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("Les Lucioles (Toulon) — 6 places libres lundi et mardi"),
        "{}",
        page.body
    );
    // The offer form says what is free each weekday from the family's start.
    assert!(
        page.body.contains("Places AVIP libres à partir du"),
        "{}",
        page.body
    );

    let planning = browser
        .get(&format!("/app/places?creche={}", t.creche))
        .await;
    assert_eq!(planning.status, 200);
    assert!(
        planning.body.contains("<strong>samedi</strong> : fermé"),
        "{}",
        planning.body
    );
    assert!(
        planning
            .body
            .contains("<strong>lundi</strong> : 6 places libres"),
        "{}",
        planning.body
    );
    assert!(
        planning.body.contains("Ajouter la fermeture"),
        "the crèche's coordinator may add one"
    );
    // A prescriber reads the closures but records none.
    let mut prescriber = Browser::new(&app);
    prescriber
        .sign_in("p.durand@example.org", PASSWORD, "/app/")
        .await;
    let read = prescriber
        .get(&format!("/app/places?creche={}", t.creche))
        .await;
    assert_eq!(read.status, 200);
    assert!(read.body.contains("Fermetures"), "{}", read.body);
    assert!(!read.body.contains("Ajouter la fermeture"), "{}", read.body);
}

#[tokio::test]
async fn an_offer_on_a_full_day_is_refused_next_to_its_field_and_can_be_forced() {
    let app = spawn_app().await;
    let (t, mut browser) = coordinator_in(&app).await;
    app.expect(
        &t.admin,
        "POST",
        &format!("/api/v1/creches/{}/capacity", t.creche),
        Some(json!({"from": today().to_string(), "avip_places": 0})),
        201,
    )
    .await;
    let r = new_referral(&app, &t.prescriber, &t.creche, "Yanis").await;
    let page_path = format!("/app/orientations/{}", id(&r));
    let token = csrf(&browser.get(&page_path).await.body);
    let offer = [("csrf", token.as_str()), ("to", "offered")];
    let refused = browser
        .post(&format!("{page_path}/transition"), &offer)
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("id=\"transition-force-err\"")
            && refused.body.contains("Aucune place AVIP n’est libre le"),
        "{}",
        refused.body
    );
    let mut forced = offer.to_vec();
    forced.push(("force", "true"));
    forced.push((
        "force_reason",
        "famille prioritaire, accord de la direction",
    ));
    let done = browser
        .post(&format!("{page_path}/transition"), &forced)
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let read = app
        .expect(
            &t.coordinator,
            "GET",
            &format!("/api/v1/referrals/{}", id(&r)),
            None,
            200,
        )
        .await;
    assert_eq!(read["status"], "offered");
}

#[tokio::test]
async fn the_exit_is_checked_before_it_is_recorded_planned_or_cancelled_and_corrected_from_the_page()
 {
    let app = spawn_app().await;
    let (t, mut browser) = coordinator_in(&app).await;
    let rid = id(&new_referral(&app, &t.prescriber, &t.creche, "Yanis").await);
    app.expect(
        &t.coordinator,
        "POST",
        &format!("/api/v1/referrals/{rid}/transitions"),
        Some(json!({"to": "offered", "force": true, "force_reason": "test"})),
        200,
    )
    .await;
    app.expect(
        &t.coordinator,
        "POST",
        &format!("/api/v1/referrals/{rid}/enrollment"),
        Some(
            json!({"start_date": today().to_string(), "days": ["mon", "tue"], "force": true,
                    "force_reason": "test"}),
        ),
        201,
    )
    .await;
    let page_path = format!("/app/orientations/{rid}");
    let token = csrf(&browser.get(&page_path).await.body);
    let later = (today() + Duration::days(10)).to_string();
    let exit = [
        ("csrf", token.as_str()),
        ("date", later.as_str()),
        ("reason", "employment"),
        ("employment_status", "employed_permanent"),
        ("childcare_solution", "same_creche"),
    ];
    // First the check: what will be recorded, nothing written.
    let check = browser.post(&format!("{page_path}/sortie"), &exit).await;
    assert_eq!(check.status, 200, "{}", check.body);
    assert!(
        check
            .body
            .contains("Vérifiez la sortie avant de l’enregistrer")
    );
    assert!(
        check.body.contains("oui : le parent travaille"),
        "{}",
        check.body
    );
    assert!(check.body.contains("prévue : l’enfant reste inscrit"));
    assert_eq!(
        api_referral(&app, &t.coordinator, &rid).await["planned_exit"],
        Value::Null
    );
    // Confirmed: planned, the child still enrolled.
    let mut confirmed = exit.to_vec();
    confirmed.push(("confirm", "1"));
    let planned = browser
        .post(&format!("{page_path}/sortie"), &confirmed)
        .await;
    assert_eq!(planned.status, 303, "{}", planned.body);
    assert!(planned.location.unwrap().ends_with("fait=sortie-prevue"));
    let page = browser.get(&page_path).await;
    assert!(page.body.contains("Sortie prévue le"), "{}", page.body);
    assert_eq!(
        api_referral(&app, &t.coordinator, &rid).await["status"],
        "enrolled"
    );
    let cancelled = browser
        .post(
            &format!("{page_path}/sortie-annulee"),
            &[("csrf", token.as_str())],
        )
        .await;
    assert_eq!(cancelled.status, 303);
    assert_eq!(
        api_referral(&app, &t.coordinator, &rid).await["planned_exit"],
        Value::Null
    );

    // Recorded today, then corrected with a reason.
    let now = today().to_string();
    let mut today_exit = confirmed.clone();
    today_exit[1] = ("date", now.as_str());
    today_exit[2] = ("reason", "family_moved");
    today_exit[3] = ("employment_status", "job_search");
    let recorded = browser
        .post(&format!("{page_path}/sortie"), &today_exit)
        .await;
    assert_eq!(recorded.status, 303, "{}", recorded.body);
    assert_eq!(
        api_referral(&app, &t.coordinator, &rid).await["status"],
        "exited"
    );
    let page = browser.get(&page_path).await;
    assert!(page.body.contains("Corriger la sortie"));
    let correction = [
        ("csrf", token.as_str()),
        ("date", now.as_str()),
        ("reason", "family_moved"),
        ("employment_status", "job_search"),
        ("childcare_solution", "same_creche"),
        ("correction_reason", "erreur de saisie"),
    ];
    let refused = browser
        .post(&format!("{page_path}/correction"), &correction)
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("Rien à corriger"), "{}", refused.body);
    let mut changed = correction.to_vec();
    changed[3] = ("employment_status", "training");
    changed[2] = ("reason", "training");
    let done = browser
        .post(&format!("{page_path}/correction"), &changed)
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let api = api_referral(&app, &t.coordinator, &rid).await;
    assert_eq!(api["exit"]["employment_status"], "training");
    assert_eq!(api["exit"]["positive"], true);
    let page = browser.get(&page_path).await;
    assert!(
        page.body.contains("Sortie corrigée"),
        "the timeline says so"
    );
}

/// The four pages a public service owes: open without an account, linked
/// from the footer of every page (signed in or not), naming who runs the
/// service and, for personal data, the retention the service runs with.
#[tokio::test]
async fn the_pages_a_public_service_owes_are_open_to_all_and_linked_from_every_page() {
    let app = avip_tests::spawn_app_with(|env| {
        for (k, v) in [
            ("AVIP_OPERATOR_NAME", "Métropole Exemple"),
            (
                "AVIP_OPERATOR_ADDRESS",
                "1 place de la Mairie, 83000 Toulon",
            ),
            ("AVIP_PUBLICATION_DIRECTOR", "Camille Martin, présidente"),
            (
                "AVIP_HOSTING",
                "Hébergeur Exemple, 2 rue des Serveurs, 75000 Paris",
            ),
            ("AVIP_DPO_EMAIL", "dpo@metropole.example"),
            ("AVIP_SUPPORT_EMAIL", "avip@metropole.example"),
            ("AVIP_RETENTION", "400d"),
            ("AVIP_ACCESS_LOG_RETENTION", "90d"),
        ] {
            env.insert(k.into(), v.into());
        }
    })
    .await;
    let (_t, mut coordinator) = coordinator_in(&app).await;
    let mut anonymous = Browser::new(&app);
    let pages = [
        (
            "/app/mentions-legales",
            "Mentions légales",
            "Camille Martin, présidente",
        ),
        (
            "/app/accessibilite",
            "Déclaration d’accessibilité",
            "Défenseur des droits",
        ),
        (
            "/app/donnees-personnelles",
            "Données personnelles",
            "<strong>400 jours</strong>",
        ),
        (
            "/app/aide",
            "Aide et contact",
            "mailto:avip@metropole.example",
        ),
    ];
    for (path, title, says) in pages {
        let page = anonymous.get(path).await;
        assert_eq!(page.status, 200, "{path}");
        assert!(page.body.contains(&format!("<h1>{title}</h1>")), "{path}");
        assert!(page.body.contains(says), "{path}: {says}");
        assert!(page.body.contains("Métropole Exemple"), "{path}");
    }
    let data = anonymous.get("/app/donnees-personnelles").await.body;
    assert!(
        data.contains("<strong>90 jours</strong>"),
        "the access log's"
    );
    assert!(data.contains("mailto:dpo@metropole.example"));
    let access = anonymous.get("/app/accessibilite").await.body;
    assert!(access.contains("<strong>non conforme</strong>"));
    assert!(access.contains("<h2>Contenus non accessibles</h2>"));

    // The footer: on the sign-in page, on a signed-in person's pages, on a
    // page that is not found.
    let signed_in = coordinator.get("/app/a-traiter").await;
    assert_eq!(signed_in.status, 200);
    for body in [
        anonymous.get("/app/connexion").await.body,
        signed_in.body,
        coordinator.get("/app/orientations").await.body,
        coordinator.get("/app/orientations/nope").await.body,
    ] {
        for (path, _, _) in pages {
            assert!(body.contains(&format!("href=\"{path}\"")), "{path}");
        }
        assert!(body.contains("Accessibilité : non conforme"));
    }
}

/// In development a missing setting says where to set it, and no link is
/// made of it.
#[tokio::test]
async fn unset_publisher_settings_read_a_to_do_in_development() {
    let app = spawn_app().await;
    let page = Browser::new(&app).get("/app/mentions-legales").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("à renseigner (AVIP_OPERATOR_NAME)"));
    assert!(page.body.contains("à renseigner (AVIP_SUPPORT_EMAIL)"));
    assert!(!page.body.contains("mailto:"));
}

/// "À traiter" names the family on every row, as a link, and shows the
/// contracts that end within two months (not those further off); its lists
/// are read again every minute while it is open.
#[tokio::test]
async fn the_worklist_names_every_family_and_looks_two_months_ahead() {
    let app = spawn_app().await;
    let (t, mut browser) = coordinator_in(&app).await;
    for (child, days) in [("Soon", 45), ("Later", 90)] {
        let r = id(&new_referral(&app, &t.prescriber, &t.creche, child).await);
        crate::referrals::move_to(&app, &t.coordinator, &r, json!({"to": "offered"}), 200).await;
        let contract = json!({"start_date": today().to_string(),
            "contract_end_date": (today() + Duration::days(days)).to_string(),
            "days": ["mon", "tue", "wed", "thu", "fri"], "force": true, "force_reason": "test"});
        let path = format!("/api/v1/referrals/{r}/enrollment");
        app.expect(&t.coordinator, "POST", &path, Some(contract), 201)
            .await;
    }
    let page = browser.get("/app/a-traiter").await;
    assert_eq!(page.status, 200);
    let contracts = &page.body[page.body.find("id=\"contrats\"").unwrap()..];
    let contracts = &contracts[..contracts.find("</table>").unwrap()];
    assert_eq!(contracts.matches("<tr><td>").count(), 1, "{contracts}");
    assert!(contracts.contains(">Amina Benali</a></td>"), "{contracts}");
    assert!(contracts.contains("<th scope=\"col\">Famille</th>"));
    assert!(page.body.contains("hx-trigger=\"every 60s\""));
    assert!(page.body.contains("hx-get=\"/app/a-traiter?creche="));

    // Enrolled, care starting next month: not yet "Accueil en cours".
    let r = id(&new_referral(&app, &t.prescriber, &t.creche, "Next").await);
    crate::referrals::move_to(&app, &t.coordinator, &r, json!({"to": "offered"}), 200).await;
    let start = today() + Duration::days(30);
    let contract = json!({"start_date": start.to_string(),
        "days": ["mon", "tue"], "force": true, "force_reason": "test"});
    let path = format!("/api/v1/referrals/{r}/enrollment");
    app.expect(&t.coordinator, "POST", &path, Some(contract), 201)
        .await;
    let page = browser.get(&format!("/app/orientations/{r}")).await;
    let words = format!("Inscrit, accueil à partir du {}", start.format("%d/%m/%Y"));
    assert!(page.body.contains(&words), "{}", page.body);
    // The timeline writes its dates as the page does.
    let started = format!("Début : {}", start.format("%d/%m/%Y"));
    assert!(page.body.contains(&started), "{}", page.body);
}

/// A referral's page leads: on arrival one note goes with whichever move is
/// chosen; after an offer the enrollment comes first, open and filled from
/// the family's needs; a refused form's summary names each field by its
/// label in the form's order and takes the focus; an enrolled child's
/// contract is renewed by six months or to a date, one or the other.
#[tokio::test]
async fn the_next_step_comes_first_filled_from_the_needs_and_the_renewal_is_one_choice() {
    let app = spawn_app().await;
    let (t, mut browser) = coordinator_in(&app).await;
    let mut body = crate::referrals::referral(&t.creche, "Lina");
    body["needs"]["days"] = json!(["mon", "tue", "thu"]);
    body["needs"]["days_per_week"] = json!(3);
    body["needs"]["hours"] = json!({"from": "08:30", "to": "17:00"});
    let created = app
        .expect(&t.prescriber, "POST", "/api/v1/referrals", Some(body), 201)
        .await;
    let rid = id(&created);
    let page_path = format!("/app/orientations/{rid}");

    let page = browser.get(&page_path).await;
    assert_eq!(page.body.matches("Note (facultative)").count(), 1);
    assert!(
        page.body.contains(&format!(
            "formaction=\"{page_path}/note\">Ajouter seulement la note"
        )),
        "the note alone goes from the same field"
    );
    assert!(!page.body.contains("<summary>Ajouter une note</summary>"));
    let token = csrf(&page.body);
    // "Other" without its note, from the refusal's own form: its summary
    // names the field.
    let refused = browser
        .post(
            &format!("{page_path}/refus"),
            &[("csrf", &token), ("to", "declined"), ("reason", "other")],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains(
            "<a href=\"#refus-note\">Note : Expliquez le motif « Autre » dans la note.</a>"
        )
    );
    assert!(refused.body.contains("id=\"refus-note-err\""));
    assert!(
        refused
            .body
            .contains("class=\"error-summary\" role=\"alert\" tabindex=\"-1\" autofocus")
    );
    // The note alone, empty: refused next to the one note field.
    let empty = browser
        .post(
            &format!("{page_path}/note"),
            &[("csrf", &token), ("note", "")],
        )
        .await;
    assert_eq!(empty.status, 422);
    assert!(empty.body.contains("<a href=\"#transition-note\">Note : "));
    assert!(
        empty
            .body
            .contains("aria-describedby=\"transition-note-err\"")
    );
    assert!(empty.body.contains("id=\"transition-note-err\""));
    // The note alone, sent from the next step's field.
    let noted = browser
        .post(
            &format!("{page_path}/note"),
            &[("csrf", &token), ("note", "message laissé")],
        )
        .await;
    assert_eq!(noted.status, 303);

    app.expect(
        &t.coordinator,
        "POST",
        &format!("/api/v1/referrals/{rid}/transitions"),
        Some(json!({"to": "offered", "force": true, "force_reason": "test"})),
        200,
    )
    .await;
    let page = browser.get(&page_path).await;
    let first = page.body.find("id=\"inscrire\"").expect("the enrollment");
    assert!(first < page.body.find("id=\"autres\"").unwrap());
    assert!(!page.body.contains("<summary>Inscrire l’enfant</summary>"));
    let start = (today() + Duration::days(10)).to_string();
    assert!(page.body.contains(&format!(
        "id=\"inscription-start_date\" name=\"start_date\" required value=\"{start}\""
    )));
    for (day, ticked) in [("mon", true), ("tue", true), ("wed", false), ("thu", true)] {
        let checked = format!("id=\"inscription-day-{day}\" name=\"days\" value=\"{day}\" checked");
        assert_eq!(page.body.contains(&checked), ticked, "{day}");
    }
    assert!(
        page.body
            .contains("id=\"inscription-hours-from\" name=\"hours.from\" value=\"08:30\"")
    );
    let before_start = (today() + Duration::days(5)).to_string();
    let refused = browser
        .post(
            &format!("{page_path}/inscription"),
            &[
                ("csrf", &token),
                ("start_date", &start),
                ("contract_end_date", &before_start),
                ("hours.from", "17:00"),
                ("hours.to", "08:00"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    let end_line = refused
        .body
        .find("<a href=\"#inscription-contract_end_date\">Fin du contrat : ")
        .expect("the end date named by its label");
    let days_line = refused
        .body
        .find("<a href=\"#inscription-days\">Jours d’accueil : ")
        .expect("the days named by their label");
    assert!(end_line < days_line, "in the form's order");

    app.expect(
        &t.coordinator,
        "POST",
        &format!("/api/v1/referrals/{rid}/enrollment"),
        Some(
            json!({"start_date": start, "days": ["mon", "tue"], "force": true,
                    "force_reason": "test"}),
        ),
        201,
    )
    .await;
    let contract = &api_referral(&app, &t.coordinator, &rid).await["enrollment"];
    let end: chrono::NaiveDate = contract["contract_end_date"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let renewed = end + chrono::Months::new(6);
    let page = browser.get(&page_path).await;
    assert!(page.body.find("id=\"suivre\"").unwrap() < page.body.find("id=\"autres\"").unwrap());
    assert!(page.body.contains(&format!(
        "Le contrat en cours finit le <strong>{}</strong>",
        end.format("%d/%m/%Y")
    )));
    assert!(page.body.contains(&format!(
        "Six mois de plus : jusqu’au {}",
        renewed.format("%d/%m/%Y")
    )));
    let path = format!("{page_path}/contrat");
    let empty = browser.post(&path, &[("csrf", &token)]).await;
    assert_eq!(empty.status, 422);
    assert!(
        empty.body.contains(
            "Renouvellement : Choisissez « six mois de plus » ou une nouvelle date de fin."
        )
    );
    assert!(!empty.body.contains("les jours ou les horaires"));
    let no_date = browser
        .post(&path, &[("csrf", &token), ("choix", "date")])
        .await;
    assert_eq!(no_date.status, 422);
    assert!(no_date.body.contains("Indiquez la nouvelle date de fin."));
    // Six months chosen: a date typed as well does not silently win.
    let elsewhere = (end + Duration::days(30)).to_string();
    let six = browser
        .post(
            &path,
            &[
                ("csrf", &token),
                ("choix", "six_mois"),
                ("contract_end_date", &elsewhere),
                ("force", "true"),
                ("force_reason", "test"),
            ],
        )
        .await;
    assert_eq!(six.status, 303, "{}", six.body);
    let contract = &api_referral(&app, &t.coordinator, &rid).await["enrollment"];
    assert_eq!(contract["contract_end_date"], renewed.to_string());
}

/// With more families waiting than the worklist shows, it shows the most
/// urgent (the soonest deadline first) and leads to the whole list in that
/// order.
#[tokio::test]
async fn the_worklist_shows_the_most_urgent_and_leads_to_the_whole_list() {
    let app = spawn_app().await;
    let (t, mut browser) = coordinator_in(&app).await;
    let mut references = Vec::new();
    for n in 0..51 {
        let r = new_referral(&app, &t.prescriber, &t.creche, &format!("Enfant{n}")).await;
        references.push(r["reference"].as_str().unwrap().to_owned());
    }
    let page = browser.get("/app/a-traiter").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("Premières réponses à donner (plus de 50)"),
        "{}",
        page.body
    );
    let waiting = &page.body[page.body.find("id=\"reponses\"").unwrap()..];
    let (table, after) = waiting.split_at(waiting.find("</table>").unwrap());
    assert_eq!(table.matches("<tr><td>").count(), 50, "{table}");
    // The first sent waits the longest; the last sent is the one left out.
    assert!(
        table.contains(&format!(">{}</a>", references[0])),
        "{table}"
    );
    assert!(
        !table.contains(&format!(">{}</a>", references[50])),
        "{table}"
    );
    let link = "/app/orientations?statut=received&#38;creche=&#38;ordre=echeance";
    let more = &after[..after.find("</p>").unwrap()];
    assert!(more.contains(&format!("href=\"{link}\"")), "{more}");

    let whole = browser.get(&link.replace("&#38;", "&")).await;
    assert_eq!(whole.status, 200);
    let first = whole.body.find(&format!(">{}</a>", references[0])).unwrap();
    let second = whole.body.find(&format!(">{}</a>", references[1])).unwrap();
    assert!(first < second, "soonest deadline first");
}

/// From the referral page, the crèche hands the family to another crèche
/// of the département: the one free on the family's days comes first; a
/// refused form names its field; once handed over the page is gone for
/// her and there for the crèche that received it, with the transfer on the
/// timeline (issue 34).
#[tokio::test]
async fn a_coordinator_hands_a_family_to_another_creche_from_its_page() {
    let app = spawn_app().await;
    let (t, mut browser) = coordinator_in(&app).await;
    let r = crate::referrals::monday_tuesday_referral(&app, &t).await;
    let page_path = format!("/app/orientations/{}", id(&r));
    let page = browser.get(&page_path).await;
    assert!(
        page.body
            .contains("<summary>Transférer vers une autre crèche</summary>")
    );
    let select = &page.body[page.body.find("id=\"transfert-creche_id\"").unwrap()..];
    let select = &select[..select.find("</select>").unwrap()];
    // The other crèche, free on Monday and Tuesday, with what it offers;
    // not the crèche it is at.
    let first = select.find("</option>").unwrap() + "</option>".len();
    assert!(
        select[first..]
            .trim_start()
            .starts_with(&format!("<option value=\"{}\"", t.other_creche)),
        "{select}"
    );
    assert!(select.contains("Les Lucioles (Toulon) — "), "{select}");
    assert!(!select.contains(&t.creche), "{select}");
    let token = csrf(&page.body);

    let form = format!("{page_path}/transfert");
    let refused = browser
        .post(
            &form,
            &[
                ("csrf", &token),
                ("creche_id", &t.other_creche),
                ("reason", "other"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains("id=\"transfert-note-err\""),
        "{}",
        refused.body
    );
    assert!(
        refused
            .body
            .contains("<details open>\n<summary>Transférer vers une autre crèche")
    );

    let done = browser
        .post(
            &form,
            &[
                ("csrf", &token),
                ("creche_id", &t.other_creche),
                ("reason", "no_place_on_days"),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        done.location.as_deref(),
        Some("/app/a-traiter?fait=transfert")
    );
    let worklist = browser.get("/app/a-traiter?fait=transfert").await;
    assert!(worklist.body.contains("L’orientation est transférée"));
    assert_eq!(browser.get(&page_path).await.status, 404);

    let mut there = Browser::new(&app);
    there.sign_in("b.roux@example.org", PASSWORD, "/app/").await;
    let page = there.get(&page_path).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Transférée vers une autre crèche"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("Les Petits Pas → Les Lucioles"),
        "{}",
        page.body
    );
}

/// "Liste d'attente": the waitlisted families of the coordinator's
/// crèches, each with its days and where its operator has room (issue 34).
#[tokio::test]
async fn the_waiting_list_page_names_the_days_and_where_there_is_room() {
    let app = spawn_app().await;
    let (t, mut browser) = coordinator_in(&app).await;
    let me = app
        .expect(&t.coordinator, "GET", "/api/v1/me", None, 200)
        .await;
    let operator = me["organization"]["id"].as_str().unwrap().to_owned();
    crate::referrals::creche(&app, &t.admin, &operator, "Les Mimosas").await;
    let r = crate::referrals::monday_tuesday_referral(&app, &t).await;
    let to = json!({"to": "waitlisted"});
    crate::referrals::move_to(&app, &t.coordinator, &id(&r), to, 200).await;
    let page = browser.get("/app/liste-attente").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Familles en attente (1)"),
        "{}",
        page.body
    );
    let row = &page.body[page.body.find(r["reference"].as_str().unwrap()).unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains(">Amina Benali</a></td>"), "{row}");
    assert!(row.contains("lundi, mardi"), "{row}");
    assert!(row.contains("(aujourd’hui)"), "{row}");
    assert!(row.contains("<li>Les Mimosas (Toulon)</li>"), "{row}");
    assert!(page.body.contains("<li><a href=\"/app/liste-attente\""));
}

/// An offer whose hold ended without an answer, and a family waiting a
/// whole period without a move, wait on "À traiter" for the coordinator's
/// decision; the referral's page offers the moves that answer them.
#[tokio::test]
async fn expired_offers_and_long_waits_are_decisions_on_the_worklist() {
    use avip_db::schema::{place_bookings, referral_events};
    use diesel::prelude::*;
    let app = avip_tests::spawn_app_with_engine(|env| {
        env.insert("AVIP_SLA_SCHEDULE".into(), "* * * * * *".into());
    })
    .await;
    let (t, mut browser) = coordinator_in(&app).await;
    let offered = new_referral(&app, &t.prescriber, &t.creche, "Yanis").await;
    let o = offered["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/referrals/{o}/transitions");
    let offer = Some(json!({"to": "offered"}));
    app.expect(&t.coordinator, "POST", &path, offer, 200).await;
    // Its hold has ended: the engine's job writes its expiry.
    let mut conn = app.db.connect();
    diesel::update(place_bookings::table.filter(place_bookings::referral_id.eq(&o)))
        .set(place_bookings::ends_before.eq(today()))
        .execute(&mut conn)
        .unwrap();
    let timeline = format!("/api/v1/referrals/{o}/events");
    for _ in 0..300 {
        let events = app
            .expect(&t.coordinator, "GET", &timeline, None, 200)
            .await;
        if events.to_string().contains("offer_expired") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let waiting = new_referral(&app, &t.prescriber, &t.creche, "Lina").await;
    let w = waiting["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/referrals/{w}/transitions");
    let wait = Some(json!({"to": "waitlisted"}));
    app.expect(&t.coordinator, "POST", &path, wait, 200).await;

    let page = browser.get("/app/a-traiter").await;
    let decisions = &page.body[page.body.find("id=\"decisions\"").unwrap()..];
    let decisions = &decisions[..decisions.find("</table>").unwrap_or(decisions.len())];
    assert!(decisions.contains("Décisions à prendre (1)"), "{decisions}");
    assert!(
        decisions.contains("Offre expirée sans réponse"),
        "{decisions}"
    );
    assert!(decisions.contains(offered["reference"].as_str().unwrap()));

    // Thirty-one days without a move: the family needs a look too.
    let at = (chrono::Utc::now() - chrono::Duration::days(31)).naive_utc();
    diesel::update(referral_events::table.filter(referral_events::referral_id.eq(&w)))
        .set(referral_events::occurred_at.eq(at))
        .execute(&mut conn)
        .unwrap();
    let page = browser.get("/app/a-traiter").await;
    let decisions = &page.body[page.body.find("id=\"decisions\"").unwrap()..];
    assert!(decisions.contains("Décisions à prendre (2)"), "{decisions}");
    assert!(
        decisions.contains("En liste d’attente sans nouvelle depuis 31 jours"),
        "{decisions}"
    );
    // The referral's page: offer again, or the waiting list.
    let referral = browser.get(&format!("/app/orientations/{o}")).await;
    assert!(
        referral.body.contains("Proposer la place à nouveau"),
        "{}",
        referral.body
    );
    assert!(referral.body.contains("Mettre en liste d’attente"));
    // A note is a move: the family leaves the list of decisions.
    let note = Some(json!({"note": "Appelée : toujours intéressée, attend une place"}));
    let path = format!("/api/v1/referrals/{w}/notes");
    app.expect(&t.coordinator, "POST", &path, note, 201).await;
    let page = browser.get("/app/a-traiter").await;
    assert!(
        page.body.contains("Décisions à prendre (1)"),
        "{}",
        page.body
    );
}

/// The value of the hidden field `name` in a page's form.
fn hidden(html: &str, name: &str) -> String {
    let start = html
        .find(&format!("name=\"{name}\" value=\""))
        .expect("the page has the field")
        + format!("name=\"{name}\" value=\"").len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

#[tokio::test]
async fn a_coordinator_writes_to_the_family_from_its_page_once_per_click() {
    let app = spawn_app().await;
    let (t, mut browser) = coordinator_in(&app).await;
    let path = format!("/api/v1/creches/{}", t.creche);
    let phone = json!({"phone": "04 94 00 00 01"});
    app.expect(&t.admin, "PATCH", &path, Some(phone), 200).await;
    let mut body = crate::referrals::referral(&t.creche, "Yanis");
    body["parent"]["contact_preference"] = json!("sms");
    let created = app
        .expect(&t.prescriber, "POST", "/api/v1/referrals", Some(body), 201)
        .await;
    let page_path = format!("/app/orientations/{}", id(&created));
    let page = browser.get(&page_path).await;
    assert!(
        page.body
            .contains("Moyen de contact choisi par la famille : <strong>par SMS</strong>"),
        "{}",
        page.body
    );
    let (token, key) = (csrf(&page.body), hidden(&page.body, "cle"));
    let message = format!("{page_path}/message");
    let refused = browser
        .post(
            &message,
            &[("csrf", &token), ("cle", &key), ("template", "free_text")],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused
            .body
            .contains("<p class=\"field-error\" id=\"message-text-err\">Écrivez le message.</p>"),
        "{}",
        refused.body
    );
    // The refused form keeps its key: the message it becomes goes once.
    assert_eq!(hidden(&refused.body, "cle"), key);
    let form = [
        ("csrf", token.as_str()),
        ("cle", key.as_str()),
        ("template", "meeting_invitation"),
    ];
    for _ in 0..2 {
        let sent = browser.post(&message, &form).await;
        assert_eq!(sent.status, 303, "{}", sent.body);
    }
    let page = browser.get(&format!("{page_path}?fait=message")).await;
    assert_eq!(
        page.body
            .matches("Invitation au premier rendez-vous par SMS")
            .count(),
        1,
        "{}",
        page.body
    );
    assert!(page.body.contains("en cours d’envoi"));
    assert!(
        page.body
            .contains("Appelez-nous pour choisir le jour : 04 94 00 00 01.")
    );
    let answered = api_referral(&app, &t.coordinator, &id(&created)).await;
    assert_eq!(
        answered["status"], "contacted",
        "the message answered the family"
    );

    let changed = browser
        .post(
            &format!("{page_path}/contact"),
            &[("csrf", &token), ("contact_preference", "phone_call")],
        )
        .await;
    assert_eq!(changed.status, 303);
    let page = browser.get(&page_path).await;
    assert!(
        page.body
            .contains("<strong>par téléphone seulement</strong>")
    );
    assert!(!page.body.contains("Envoyer à la famille"));
    app.stop().await;
}

#[tokio::test]
async fn a_coordinator_invites_the_family_to_a_meeting_and_notes_it_from_its_page() {
    let app = spawn_app().await;
    let (t, mut browser) = coordinator_in(&app).await;
    let path = format!("/api/v1/creches/{}", t.creche);
    let phone = json!({"phone": "04 94 00 00 01"});
    app.expect(&t.admin, "PATCH", &path, Some(phone), 200).await;
    let mut body = crate::referrals::referral(&t.creche, "Yanis");
    body["parent"]["contact_preference"] = json!("sms");
    let created = app
        .expect(&t.prescriber, "POST", "/api/v1/referrals", Some(body), 201)
        .await;
    let referral = id(&created);
    let page_path = format!("/app/orientations/{referral}");
    let page = browser.get(&page_path).await;
    assert!(
        page.body
            .contains("Inviter la famille à choisir son rendez-vous")
    );
    let token = csrf(&page.body);
    let invite = format!("{page_path}/rendez-vous");
    let yesterday = (today() - Duration::days(1)).to_string();
    let refused = browser
        .post(
            &invite,
            &[
                ("csrf", &token),
                ("nouveau-0-date", &yesterday),
                ("nouveau-0-heure", "10:00"),
                ("minutes", "45"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains(
            "<p class=\"field-error\" id=\"rendez-vous-nouveau-0-starts_at-err\">Choisissez un moment à venir.</p>"
        ),
        "{}",
        refused.body
    );
    let day = (today() + Duration::days(3)).to_string();
    let sent = browser
        .post(
            &invite,
            &[
                ("csrf", &token),
                ("nouveau-0-date", &day),
                ("nouveau-0-heure", "10:00"),
                ("minutes", "45"),
            ],
        )
        .await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    let page = browser.get(&page_path).await;
    assert!(
        page.body
            .contains("Une invitation attend la réponse de la famille")
    );
    assert!(
        page.body
            .contains("Invitation au premier rendez-vous par SMS")
    );
    let answered = api_referral(&app, &t.coordinator, &referral).await;
    assert_eq!(answered["status"], "contacted");

    // The family books through its link; once the meeting began, it is noted.
    let messages = app
        .expect(
            &t.coordinator,
            "GET",
            &format!("/api/v1/referrals/{referral}/messages"),
            None,
            200,
        )
        .await;
    let text = messages["items"][0]["text"].as_str().unwrap();
    let link = &text[text.find("/app/rendez-vous/").unwrap()..];
    let link = &link[..link.find(' ').unwrap()];
    let family = reqwest::get(app.url(link))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let slot = hidden_radio(&family);
    let chose = reqwest::Client::new()
        .post(app.url(link))
        .form(&[("choix", slot.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(chose.status().as_u16(), 200);
    let worklist = browser.get("/app/a-traiter").await;
    assert!(
        worklist.body.contains("Premiers rendez-vous à venir (1)"),
        "{}",
        worklist.body
    );
    let mut conn = app.db.connect();
    diesel::sql_query(format!(
        "UPDATE meeting_slots SET starts_at = '{}' WHERE id = '{slot}'",
        (chrono::Utc::now() - Duration::hours(1))
            .naive_utc()
            .format("%Y-%m-%d %H:%M:%S")
    ))
    .execute(&mut conn)
    .unwrap();
    let worklist = browser.get("/app/a-traiter").await;
    assert!(
        worklist.body.contains("Rendez-vous du "),
        "{}",
        worklist.body
    );
    let page = browser.get(&page_path).await;
    assert!(
        page.body.contains("Le rendez-vous a-t-il eu lieu ?"),
        "{}",
        page.body
    );
    let noted = browser
        .post(
            &format!("{page_path}/rendez-vous-note"),
            &[("csrf", &token), ("outcome", "no_show")],
        )
        .await;
    assert_eq!(noted.status, 303, "{}", noted.body);
    let page = browser.get(&page_path).await;
    assert!(page.body.contains("Noté : rendez-vous non honoré."));
    let worklist = browser.get("/app/a-traiter").await;
    assert!(
        !worklist.body.contains("Rendez-vous du "),
        "noted, it leaves the worklist"
    );
    app.stop().await;
}

/// The first slot a family's page offers.
fn hidden_radio(html: &str) -> String {
    let start = html.find("name=\"choix\" id=\"choix-0\" value=\"").unwrap()
        + "name=\"choix\" id=\"choix-0\" value=\"".len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

#[tokio::test]
async fn a_coordinator_imports_her_spreadsheet_corrects_a_row_and_commits_from_the_page() {
    let app = spawn_app().await;
    let (t, mut browser) = coordinator_in(&app).await;
    let form = browser.get("/app/import").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("Télécharger le modèle"), "{}", form.body);
    let template = browser.get("/app/import/modele.xlsx").await;
    assert_eq!(template.status, 200);
    let token = csrf(&form.body);
    let fixture = |name: &str| {
        std::fs::read(format!(
            "{}/fixtures/imports/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };

    // Without the session's token nothing is read.
    let fields = [("creche_id", t.creche.as_str()), ("kind", "referrals")];
    let refused = browser
        .upload(
            "/app/import",
            &fields,
            ("errors.csv", fixture("errors.csv")),
        )
        .await;
    assert_eq!(refused.status, 403);
    // A file that is no spreadsheet: the reason, in French.
    let with_token = [
        ("csrf", token.as_str()),
        ("creche_id", t.creche.as_str()),
        ("kind", "referrals"),
    ];
    let bad = browser
        .upload(
            "/app/import",
            &with_token,
            ("photo.png", b"\x89PNG\r\n\x00".to_vec()),
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(
        bad.body.contains("n’est pas un tableur lisible"),
        "{}",
        bad.body
    );

    let read = browser
        .upload(
            "/app/import",
            &with_token,
            ("errors.csv", fixture("errors.csv")),
        )
        .await;
    assert_eq!(read.status, 303, "{}", read.body);
    let page_path = read.location.unwrap();
    let page = browser.get(&page_path).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Fichier CSV lu en UTF-8"),
        "{}",
        page.body
    );
    assert!(page.body.contains("3 à corriger"), "{}", page.body);
    assert!(
        page.body
            .contains("Ce n’est pas une date : écrivez-la JJ/MM/AAAA."),
        "{}",
        page.body
    );
    assert!(page.body.contains("Même enfant que la ligne 2"));
    assert!(
        !page.body.contains("/enregistrer"),
        "no commit while a row is invalid"
    );

    let token = csrf(&page.body);
    let fix = |row: u32| format!("{page_path}/lignes/{row}");
    let fixed = browser
        .post(
            &fix(3),
            &[
                ("csrf", &token),
                ("champ:child.birth_date", "28/02/2024"),
                ("champ:parent.situation", "Demandeur d'emploi"),
                ("action", "verifier"),
            ],
        )
        .await;
    assert_eq!(fixed.status, 303, "{}", fixed.body);
    browser
        .post(
            &fix(4),
            &[
                ("csrf", &token),
                ("champ:exit.reason", "Choix de la famille"),
                ("action", "verifier"),
            ],
        )
        .await;
    // A correction that is still wrong says why, next to the row.
    let still = browser
        .post(
            &fix(5),
            &[
                ("csrf", &token),
                ("champ:prescriber", "Pôle emploi"),
                ("action", "verifier"),
            ],
        )
        .await;
    assert_eq!(still.status, 303);
    let page = browser.get(&page_path).await;
    assert!(
        page.body
            .contains("Aucun organisme prescripteur du département ne porte ce nom."),
        "{}",
        page.body
    );
    browser
        .post(&fix(5), &[("csrf", &token), ("action", "retirer")])
        .await;
    let page = browser.get(&page_path).await;
    assert!(
        page.body.contains("Importer 3 orientations"),
        "{}",
        page.body
    );

    let done = browser
        .post(&format!("{page_path}/enregistrer"), &[("csrf", &token)])
        .await;
    assert_eq!(done.status, 303);
    let page = browser.get(&page_path).await;
    assert!(
        page.body
            .contains("Import enregistré : 3 orientations créées"),
        "{}",
        page.body
    );
    let list = app
        .expect(&t.coordinator, "GET", "/api/v1/referrals", None, 200)
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 3);
}
