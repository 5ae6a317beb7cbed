//! E-mails: French templates (text and HTML) and the transports that
//! deliver them: SMTP (STARTTLS or TLS), `.eml` files when no SMTP server is
//! set (the embedded default), and an in-memory transport for unit tests.

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Europe::Paris;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart};
use lettre::transport::file::AsyncFileTransport;
use lettre::transport::stub::AsyncStubTransport;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Serialize;
use sha2::{Digest, Sha256};

use avip_db::model::NotificationKind;
use avip_db::notifications::Notification;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("AVIP_SMTP_URL is not usable: {0}")]
    SmtpUrl(String),
    #[error("AVIP_MAIL_FROM is not a mailbox: {0}")]
    From(String),
    #[error("cannot create the mail directory {dir}: {reason}")]
    MailDir { dir: String, reason: std::io::Error },
}

/// One thing that needs attention, as an e-mail shows it: no name, no
/// phone number, no birth date; the reference leads to the rest.
#[derive(Clone, Debug, Serialize)]
pub struct MailItem {
    #[serde(skip)]
    pub kind: NotificationKind,
    /// What it is about, in a few French words.
    pub label: String,
    pub reference: String,
    pub creche: String,
    /// `25/11/2026 à 17:00`, Paris time.
    pub received: String,
    pub hours_since_receipt: i64,
    pub due_label: String,
    pub due: String,
    pub link: String,
}

impl MailItem {
    pub fn new(
        kind: NotificationKind,
        reference: &str,
        creche: &str,
        received: DateTime<Utc>,
        due: DateTime<Utc>,
        link: String,
        now: DateTime<Utc>,
    ) -> MailItem {
        let (label, due_label, due_text) = match kind {
            NotificationKind::FirstResponseWarning => (
                "réponse attendue bientôt",
                "Échéance de la première réponse",
                french_time(due),
            ),
            NotificationKind::FirstResponseBreach => (
                "délai de réponse dépassé",
                "Échéance de la première réponse",
                french_time(due),
            ),
            NotificationKind::FirstResponseEscalation => (
                "escalade, toujours sans réponse",
                "Échéance de la première réponse",
                french_time(due),
            ),
            NotificationKind::FollowUpOverdue => (
                "suivi du parcours en retard",
                "Suivi attendu depuis le",
                french_date(due),
            ),
            // Digests and referents' notices are rendered by their own functions.
            NotificationKind::ContractEnding
            | NotificationKind::Digest
            | NotificationKind::ReferentNotice
            | NotificationKind::ArrivalNotice
            | NotificationKind::CoordinatorNotice
            | NotificationKind::FamilyMessage
            | NotificationKind::WebhookDisabled => (
                "fin de contrat d'accueil proche",
                "Fin du contrat",
                french_date(due),
            ),
        };
        MailItem {
            kind,
            label: label.to_owned(),
            reference: reference.to_owned(),
            creche: creche.to_owned(),
            received: french_time(received),
            hours_since_receipt: (now - received).num_hours().max(0),
            due_label: due_label.to_owned(),
            due: due_text,
            link,
        }
    }
}

/// A rendered e-mail: what an outbox row says.
pub use avip_db::notifications::Content as Rendered;

/// `25/11/2026 à 17:00` in Paris.
pub fn french_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&Paris)
        .format("%d/%m/%Y à %H:%M")
        .to_string()
}

/// `25/11/2026` in Paris.
pub fn french_date(t: DateTime<Utc>) -> String {
    t.with_timezone(&Paris).format("%d/%m/%Y").to_string()
}

fn templates() -> &'static minijinja::Environment<'static> {
    static ENV: OnceLock<minijinja::Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = minijinja::Environment::new();
        // Names ending in .html are escaped for HTML, the others not at all.
        for (name, source) in [
            ("item.txt", include_str!("../templates/item.txt")),
            ("item.html", include_str!("../templates/item.html")),
            ("digest.txt", include_str!("../templates/digest.txt")),
            ("digest.html", include_str!("../templates/digest.html")),
            ("notice.txt", include_str!("../templates/notice.txt")),
            ("notice.html", include_str!("../templates/notice.html")),
            ("daily.txt", include_str!("../templates/daily.txt")),
            ("daily.html", include_str!("../templates/daily.html")),
            ("family.txt", include_str!("../templates/family.txt")),
            ("family.html", include_str!("../templates/family.html")),
        ] {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("template {name} does not parse: {e}"));
        }
        env
    })
}

fn render(name: &str, context: minijinja::Value) -> String {
    templates()
        .get_template(name)
        .and_then(|t| t.render(context))
        .unwrap_or_else(|e| format!("(le modèle {name} n'a pas pu être rendu : {e})"))
}

/// The e-mail about one item.
pub fn render_item(item: &MailItem) -> Rendered {
    let subject = match item.kind {
        NotificationKind::FirstResponseWarning => format!(
            "[AVIP] Orientation {} : réponse attendue avant le {}",
            item.reference, item.due
        ),
        NotificationKind::FirstResponseBreach => format!(
            "[AVIP] Délai dépassé : orientation {} sans réponse",
            item.reference
        ),
        NotificationKind::FirstResponseEscalation => format!(
            "[AVIP] Escalade : orientation {} toujours sans réponse",
            item.reference
        ),
        NotificationKind::FollowUpOverdue => {
            format!("[AVIP] Suivi à faire : orientation {}", item.reference)
        }
        // Digests and referents' notices are rendered by their own functions.
        NotificationKind::ContractEnding
        | NotificationKind::Digest
        | NotificationKind::ReferentNotice
        | NotificationKind::ArrivalNotice
        | NotificationKind::CoordinatorNotice
        | NotificationKind::FamilyMessage
        | NotificationKind::WebhookDisabled => format!(
            "[AVIP] Fin de contrat le {} : orientation {}",
            item.due, item.reference
        ),
    };
    let intro = match item.kind {
        NotificationKind::FirstResponseWarning => {
            "Une famille orientée vers votre crèche attend une première réponse ; \
             le délai de réponse expire bientôt."
        }
        NotificationKind::FirstResponseBreach => {
            "Le délai de première réponse à une famille orientée vers votre crèche est dépassé."
        }
        NotificationKind::FirstResponseEscalation => {
            "Une famille orientée vers la crèche attend toujours une première réponse, \
             bien après l'échéance. Ce message est adressé à la coordination AVIP et à la direction."
        }
        NotificationKind::FollowUpOverdue => {
            "Aucun suivi du parcours du parent n'a été enregistré depuis trop longtemps \
             pour un enfant accueilli sur une place AVIP."
        }
        // Digests and referents' notices are rendered by their own functions.
        NotificationKind::ContractEnding
        | NotificationKind::Digest
        | NotificationKind::ReferentNotice
        | NotificationKind::ArrivalNotice
        | NotificationKind::CoordinatorNotice
        | NotificationKind::FamilyMessage
        | NotificationKind::WebhookDisabled => {
            "Le contrat d'accueil d'un enfant sur une place AVIP arrive bientôt à son terme : \
             pensez au renouvellement ou à la sortie."
        }
    };
    let context = minijinja::context! { subject => subject, intro => intro, item => item };
    Rendered {
        text: render("item.txt", context.clone()),
        html: render("item.html", context),
        subject,
    }
}

/// One e-mail listing everything that needs a person's attention.
pub fn render_digest(items: &[MailItem]) -> Rendered {
    let subject = match items.len() {
        1 => "[AVIP] 1 orientation demande votre attention".to_owned(),
        n => format!("[AVIP] {n} orientations demandent votre attention"),
    };
    let context = minijinja::context! { subject => subject, items => items };
    Rendered {
        text: render("digest.txt", context.clone()),
        html: render("digest.html", context),
        subject,
    }
}

/// The footer's reason of a notice to the referral's referent.
pub const AS_REFERENT: &str =
    "Vous recevez ce message parce que vous êtes le référent de cette orientation.";
/// The footer's reason of a notice to a crèche's coordinator.
pub const AS_COORDINATOR: &str =
    "Vous recevez ce message parce que vous coordonnez l’accueil AVIP de cette crèche.";

/// What a referent is told about the referral they sent: what happened,
/// and the few facts that go with it (crèche, status, dates, reasons),
/// never the family's name, phone or birth date.
#[derive(Clone, Debug, Serialize)]
pub struct Notice {
    pub reference: String,
    /// The subject without the `[AVIP]` prefix.
    pub title: String,
    /// One French sentence saying what happened.
    pub intro: String,
    /// (label, value) lines, in order.
    pub rows: Vec<(String, String)>,
    pub link: String,
    /// Why the person receives it: [`AS_REFERENT`] or [`AS_COORDINATOR`].
    pub why: &'static str,
}

/// The e-mail of one notice to a referent.
pub fn render_notice(notice: &Notice) -> Rendered {
    let subject = format!("[AVIP] {}", notice.title);
    let context = minijinja::context! { subject => subject, notice => notice };
    Rendered {
        text: render("notice.txt", context.clone()),
        html: render("notice.html", context),
        subject,
    }
}

/// One line of a daily digest.
#[derive(Clone, Debug, Serialize)]
pub struct DailyLine {
    pub title: String,
    pub link: String,
}

/// One person's daily digest: everything held for them since the last.
pub fn render_daily(day: &str, items: &[DailyLine]) -> Rendered {
    let subject = match items.len() {
        1 => format!("[AVIP] Votre récapitulatif du {day} : 1 notification"),
        n => format!("[AVIP] Votre récapitulatif du {day} : {n} notifications"),
    };
    let context = minijinja::context! { subject => subject, items => items };
    Rendered {
        text: render("daily.txt", context.clone()),
        html: render("daily.html", context),
        subject,
    }
}

/// A message to a family, in plain words: its paragraphs, then who
/// writes (the crèche's name, address and phone).
#[derive(Clone, Debug, Serialize)]
pub struct FamilyMessage {
    pub subject: String,
    pub lines: Vec<String>,
    pub signature: Vec<String>,
}

/// The e-mail of a message to a family.
pub fn render_family(message: &FamilyMessage) -> Rendered {
    let context = minijinja::context! { subject => message.subject, message => message };
    Rendered {
        text: render("family.txt", context.clone()),
        html: render("family.html", context),
        subject: message.subject.clone(),
    }
}

/// Where e-mails go.
#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    File(AsyncFileTransport<Tokio1Executor>),
    Memory(AsyncStubTransport),
}

/// Sends outbox rows as e-mails from one sender.
#[derive(Clone)]
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.transport {
            Transport::Smtp(_) => "smtp",
            Transport::File(_) => "file",
            Transport::Memory(_) => "memory",
        };
        f.debug_struct("Mailer")
            .field("transport", &kind)
            .field("from", &self.from.to_string())
            .finish()
    }
}

/// How long one SMTP exchange may take before it counts as failed.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

impl Mailer {
    /// SMTP from a URL: `smtp://user:pass@host:587?tls=required` (STARTTLS),
    /// `smtps://host:465` (TLS), `smtp://127.0.0.1:2525` (plain, for tests).
    pub fn smtp(url: &str, from: &str) -> Result<Mailer, MailError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| MailError::SmtpUrl(e.to_string()))?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        Ok(Mailer {
            transport: Transport::Smtp(transport),
            from: mailbox(from)?,
        })
    }

    /// `.eml` files in `dir`, created if missing.
    pub fn file(dir: &Path, from: &str) -> Result<Mailer, MailError> {
        std::fs::create_dir_all(dir).map_err(|reason| MailError::MailDir {
            dir: dir.display().to_string(),
            reason,
        })?;
        Ok(Mailer {
            transport: Transport::File(AsyncFileTransport::new(dir)),
            from: mailbox(from)?,
        })
    }

    /// Keeps messages in memory (`stub` answers every send with `Ok` or an
    /// error, as it was built); read them back with [`AsyncStubTransport::messages`].
    pub fn memory(stub: AsyncStubTransport, from: &str) -> Result<Mailer, MailError> {
        Ok(Mailer {
            transport: Transport::Memory(stub),
            from: mailbox(from)?,
        })
    }

    /// The e-mail of an outbox row. Its `Message-ID` comes from the
    /// deduplication key, so a message sent again after an unknown outcome
    /// is recognisable as the same one.
    pub fn message(&self, notification: &Notification) -> Result<Message, String> {
        let recipients: Vec<String> =
            serde_json::from_str(&notification.recipients).map_err(|e| e.to_string())?;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(notification.subject.clone())
            .message_id(Some(message_id(&notification.dedup_key, &self.from)));
        for to in &recipients {
            builder = builder.to(to
                .parse::<Mailbox>()
                .map_err(|e| format!("recipient {to:?}: {e}"))?);
        }
        let body = MultiPart::alternative_plain_html(
            notification.body_text.clone(),
            notification.body_html.clone(),
        );
        let body = match &notification.calendar {
            None => body,
            // A calendar invitation: the text, then the `.ics` a phone's
            // or a mail client's calendar adds in one touch.
            Some(ics) => {
                let kind = ContentType::parse("text/calendar; charset=utf-8; method=PUBLISH")
                    .map_err(|e| e.to_string())?;
                MultiPart::mixed().multipart(body).singlepart(
                    Attachment::new("rendez-vous.ics".to_owned()).body(ics.clone(), kind),
                )
            }
        };
        builder.multipart(body).map_err(|e| e.to_string())
    }

    /// Hands one row to the transport.
    pub async fn send(&self, notification: &Notification) -> Result<(), String> {
        let message = self.message(notification)?;
        match &self.transport {
            Transport::Smtp(t) => t.send(message).await.map(drop).map_err(|e| e.to_string()),
            Transport::File(t) => t.send(message).await.map(drop).map_err(|e| e.to_string()),
            Transport::Memory(t) => t.send(message).await.map(drop).map_err(|e| e.to_string()),
        }
    }
}

fn mailbox(text: &str) -> Result<Mailbox, MailError> {
    text.parse::<Mailbox>()
        .map_err(|e| MailError::From(format!("{text:?}: {e}")))
}

/// `<hash of the key@sender's domain>`: stable for one deduplication key.
pub fn message_id(dedup_key: &str, from: &Mailbox) -> String {
    let digest: String = Sha256::digest(dedup_key.as_bytes())[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("<{digest}.avip@{}>", from.email.domain())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn item(kind: NotificationKind) -> MailItem {
        MailItem::new(
            kind,
            "AVIP-83-2026-00042",
            "Les Petits Pas <Toulon>",
            Utc.with_ymd_and_hms(2026, 11, 20, 16, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 23, 16, 0, 0).unwrap(),
            "http://127.0.0.1:8080/api/v1/referrals/0193".into(),
            Utc.with_ymd_and_hms(2026, 11, 22, 16, 30, 0).unwrap(),
        )
    }

    #[test]
    fn an_item_mail_says_what_when_and_where_in_french() {
        let mail = render_item(&item(NotificationKind::FirstResponseWarning));
        assert_eq!(
            mail.subject,
            "[AVIP] Orientation AVIP-83-2026-00042 : réponse attendue avant le 23/11/2026 à 17:00"
        );
        assert!(
            mail.text
                .contains("Reçue le 20/11/2026 à 17:00 (il y a 48 h)")
        );
        assert!(mail.text.contains("Crèche : Les Petits Pas <Toulon>"));
        assert!(
            mail.text
                .contains("Voir l'orientation : http://127.0.0.1:8080/api/v1/referrals/0193")
        );
        // HTML escapes what the text keeps as it is.
        assert!(mail.html.contains("Les Petits Pas &lt;Toulon&gt;"));
        assert!(
            mail.html
                .contains("href=\"http://127.0.0.1:8080/api/v1/referrals/0193\"")
        );
    }

    #[test]
    fn a_digest_lists_every_item() {
        let items = [
            item(NotificationKind::FirstResponseBreach),
            item(NotificationKind::ContractEnding),
        ];
        let mail = render_digest(&items);
        assert_eq!(
            mail.subject,
            "[AVIP] 2 orientations demandent votre attention"
        );
        assert!(
            mail.text
                .contains("- délai de réponse dépassé : AVIP-83-2026-00042")
        );
        assert!(mail.text.contains("Fin du contrat : 23/11/2026"));
        assert_eq!(mail.html.matches("<tr><td").count(), 2);
    }

    #[tokio::test]
    async fn the_message_id_comes_from_the_deduplication_key() {
        let stub = AsyncStubTransport::new_ok();
        let mailer = Mailer::memory(stub.clone(), "AVIP <no-reply@avip.example.org>").unwrap();
        let rendered = render_item(&item(NotificationKind::FirstResponseBreach));
        let row = Notification::pending(
            "first_response:r1:breach:1",
            NotificationKind::FirstResponseBreach,
            &["c.martin@example.org", "d.roux@example.org"],
            rendered,
            Utc::now().naive_utc(),
        );
        mailer.send(&row).await.unwrap();
        mailer.send(&row).await.unwrap();
        let sent = stub.messages().await;
        assert_eq!(sent.len(), 2);
        let id = message_id(&row.dedup_key, &"x@avip.example.org".parse().unwrap());
        assert!(id.ends_with("@avip.example.org>"));
        for (envelope, raw) in &sent {
            assert_eq!(envelope.to().len(), 2);
            assert!(raw.contains(&format!("Message-ID: {id}")), "{raw}");
        }
    }
}
