//! SMS: the text as a phone receives it (GSM 03.38 where possible, its
//! segments counted before it is queued) and the providers that deliver
//! it, behind [`SmsProvider`]: Brevo's transactional SMS API in production,
//! files next to the `.eml` files in development.
//!
//! Adding a provider: implement [`SmsProvider`] (one `send` that answers
//! [`SmsFailure::Permanent`] for a refusal that will not change — a bad
//! number, no credit — and [`SmsFailure::Transient`] for anything worth
//! trying again), then choose it in `avip_app::sla::texter` from its settings.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

/// A message longer than this many segments is refused before it is queued.
pub const MAX_SEGMENTS: usize = 3;

/// GSM 03.38's basic character set: one septet each.
const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// Its extension table: two septets each (an escape, then the character).
const GSM_EXTENSION: &str = "^{}\\[~]|€\u{c}";

/// An SMS's text as it will be sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmsText {
    pub text: String,
    /// Sent in UCS-2 (70 characters a segment) because some character has
    /// no GSM equivalent; GSM-7 (160) otherwise.
    pub unicode: bool,
    pub segments: usize,
}

impl SmsText {
    /// The text in GSM-7 where possible: typographic quotes, dashes and
    /// spaces become their plain forms and letters with accents GSM lacks
    /// (`ê`, `ç`, `ô`…) lose them, as French operators' gateways do; a text
    /// that still holds other characters (another script, an emoji) is
    /// kept as written and sent in UCS-2.
    pub fn prepare(text: &str) -> SmsText {
        let plain: Option<String> = text.chars().map(gsm_form).collect();
        match plain {
            Some(plain) => {
                let septets: usize = plain
                    .chars()
                    .map(|c| if GSM_EXTENSION.contains(c) { 2 } else { 1 })
                    .sum();
                SmsText {
                    segments: segments(septets, 160, 153),
                    text: plain,
                    unicode: false,
                }
            }
            None => SmsText {
                segments: segments(text.encode_utf16().count(), 70, 67),
                text: text.to_owned(),
                unicode: true,
            },
        }
    }
}

fn segments(units: usize, single: usize, each: usize) -> usize {
    if units <= single {
        1
    } else {
        units.div_ceil(each)
    }
}

/// The character's GSM form: itself, its plain equivalent, or `None`.
fn gsm_form(c: char) -> Option<String> {
    if GSM_BASIC.contains(c) || GSM_EXTENSION.contains(c) {
        return Some(c.to_string());
    }
    let plain = match c {
        '\u{2019}' | '\u{2018}' | '\u{02bc}' => "'",
        '\u{201c}' | '\u{201d}' | '\u{ab}' | '\u{bb}' => "\"",
        '\u{2013}' | '\u{2014}' | '\u{2011}' => "-",
        '\u{2026}' => "...",
        '\u{a0}' | '\u{202f}' | '\u{2009}' | '\t' => " ",
        '\u{153}' => "oe",
        '\u{152}' => "OE",
        _ => "",
    };
    if !plain.is_empty() {
        return Some(plain.to_owned());
    }
    // A Latin letter with an accent GSM lacks: the letter alone.
    let mut parts = c.nfd();
    let base = parts.next()?;
    let marks_only = parts.all(|m| ('\u{300}'..='\u{36f}').contains(&m));
    (base.is_ascii_alphabetic() && marks_only).then(|| base.to_string())
}

/// One SMS for a provider.
#[derive(Clone, Debug)]
pub struct Sms<'a> {
    /// The outbox row's deduplication key: the same SMS keeps the same key.
    pub key: &'a str,
    /// E.164, with its `+`.
    pub to: &'a str,
    pub text: &'a SmsText,
}

/// Why an SMS was not sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SmsFailure {
    /// The provider refused it and would refuse it again: not retried.
    Permanent(String),
    /// Worth another attempt later (5xx, timeout, network).
    Transient(String),
}

pub type Sending<'a> = Pin<Box<dyn Future<Output = Result<(), SmsFailure>> + Send + 'a>>;

/// What delivers SMS. See the module's documentation to add one.
pub trait SmsProvider: Send + Sync {
    fn send<'a>(&'a self, sms: &'a Sms<'a>) -> Sending<'a>;
    /// A word for the logs (`brevo`, `file`).
    fn name(&self) -> &'static str;
}

/// The providers' common handle; cheap to clone.
#[derive(Clone)]
pub struct Texter(Arc<dyn SmsProvider>);

impl std::fmt::Debug for Texter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Texter").field(&self.0.name()).finish()
    }
}

impl Texter {
    pub fn new(provider: impl SmsProvider + 'static) -> Texter {
        Texter(Arc::new(provider))
    }

    pub async fn send(&self, sms: &Sms<'_>) -> Result<(), SmsFailure> {
        self.0.send(sms).await
    }
}

/// How long one call to the provider may take before it counts as failed
/// (and is tried again).
pub const SMS_TIMEOUT: Duration = Duration::from_secs(20);

/// Brevo's transactional SMS: `POST {base}/v3/transactionalSMS/send` with
/// the `api-key` header and `{sender, recipient, content, type:
/// "transactional", unicodeEnabled}`; the recipient in international
/// digits, without the `+`.
pub struct Brevo {
    client: reqwest::Client,
    endpoint: String,
    api_key: String,
    sender: String,
}

impl Brevo {
    /// `base`: `https://api.brevo.com` (or a server speaking the same API).
    pub fn new(base: &str, api_key: &str, sender: &str) -> Result<Brevo, String> {
        let client = reqwest::Client::builder()
            .timeout(SMS_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Brevo {
            client,
            endpoint: format!("{}/v3/transactionalSMS/send", base.trim_end_matches('/')),
            api_key: api_key.to_owned(),
            sender: sender.to_owned(),
        })
    }

    async fn post(&self, sms: &Sms<'_>) -> Result<(), SmsFailure> {
        let body = serde_json::json!({
            "sender": self.sender,
            "recipient": sms.to.trim_start_matches('+'),
            "content": sms.text.text,
            "type": "transactional",
            "unicodeEnabled": sms.text.unicode,
        });
        let answer = self
            .client
            .post(&self.endpoint)
            .header("api-key", &self.api_key)
            .header("accept", "application/json")
            .json(&body)
            .send()
            .await
            // The error names the URL, never the number or the key.
            .map_err(|e| {
                SmsFailure::Transient(format!("provider unreachable: {}", e.without_url()))
            })?;
        let status = answer.status();
        if status.is_success() {
            return Ok(());
        }
        let said = answer.text().await.unwrap_or_default();
        let reason = format!(
            "provider answered {}: {}",
            status.as_u16(),
            without_numbers(&said)
        );
        if status.is_client_error() && status.as_u16() != 429 && status.as_u16() != 408 {
            Err(SmsFailure::Permanent(reason))
        } else {
            Err(SmsFailure::Transient(reason))
        }
    }
}

impl SmsProvider for Brevo {
    fn send<'a>(&'a self, sms: &'a Sms<'a>) -> Sending<'a> {
        Box::pin(self.post(sms))
    }

    fn name(&self) -> &'static str {
        "brevo"
    }
}

/// What a provider said, short, with any run of digits long enough to be a
/// phone number masked: errors are logged and shown on the timeline.
fn without_numbers(said: &str) -> String {
    let short: String = said.chars().take(300).collect();
    let mut out = String::with_capacity(short.len());
    let mut digits = String::new();
    for c in short.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        if digits.len() >= 6 {
            out.push('…');
        } else {
            out.push_str(&digits);
        }
        digits.clear();
        out.push(c);
    }
    out.trim_end().to_owned()
}

/// Development: each SMS is a `.sms` file in the mail directory, named
/// after its key, holding the number and the text.
pub struct SmsFiles {
    dir: PathBuf,
}

impl SmsFiles {
    pub fn new(dir: &Path) -> Result<SmsFiles, std::io::Error> {
        std::fs::create_dir_all(dir)?;
        Ok(SmsFiles {
            dir: dir.to_owned(),
        })
    }

    async fn write(&self, sms: &Sms<'_>) -> Result<(), SmsFailure> {
        let name: String = Sha256::digest(sms.key.as_bytes())[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let path = self.dir.join(format!("{name}.sms"));
        let content = format!(
            "To: {}\nEncoding: {}\nSegments: {}\n\n{}\n",
            sms.to,
            if sms.text.unicode { "UCS-2" } else { "GSM-7" },
            sms.text.segments,
            sms.text.text
        );
        tokio::fs::write(&path, content)
            .await
            .map_err(|e| SmsFailure::Transient(format!("cannot write {}: {e}", path.display())))
    }
}

impl SmsProvider for SmsFiles {
    fn send<'a>(&'a self, sms: &'a Sms<'a>) -> Sending<'a> {
        Box::pin(self.write(sms))
    }

    fn name(&self) -> &'static str {
        "file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_becomes_gsm_where_it_can() {
        let sms =
            SmsText::prepare("Bonjour Amina, la crèche a bien reçu votre demande. À bientôt !");
        assert!(!sms.unicode);
        assert_eq!(
            sms.text,
            "Bonjour Amina, la crèche a bien recu votre demande. A bientot !"
        );
        assert_eq!(sms.segments, 1);
        let quoted = SmsText::prepare("L’accueil « AVIP » – oui… cœur");
        assert_eq!(quoted.text, "L'accueil \" AVIP \" - oui... coeur");
        assert!(!quoted.unicode);
    }

    #[test]
    fn another_script_is_sent_in_ucs2() {
        let sms = SmsText::prepare("Bonjour أمينة");
        assert!(sms.unicode);
        assert_eq!(sms.text, "Bonjour أمينة");
        assert_eq!(sms.segments, 1);
    }

    #[test]
    fn segments_are_counted_as_phones_count_them() {
        assert_eq!(SmsText::prepare(&"a".repeat(160)).segments, 1);
        assert_eq!(SmsText::prepare(&"a".repeat(161)).segments, 2);
        assert_eq!(SmsText::prepare(&"a".repeat(459)).segments, 3);
        assert_eq!(SmsText::prepare(&"a".repeat(460)).segments, 4);
        // The extension table's characters take two septets.
        assert_eq!(SmsText::prepare(&"€".repeat(80)).segments, 1);
        assert_eq!(SmsText::prepare(&"€".repeat(81)).segments, 2);
        assert_eq!(SmsText::prepare(&"ب".repeat(70)).segments, 1);
        assert_eq!(SmsText::prepare(&"ب".repeat(71)).segments, 2);
        assert_eq!(SmsText::prepare(&"ب".repeat(201)).segments, 3);
        assert_eq!(SmsText::prepare(&"ب".repeat(202)).segments, 4);
    }

    #[test]
    fn a_provider_s_words_lose_the_numbers() {
        assert_eq!(
            without_numbers(
                r#"{"code":"invalid_parameter","message":"Invalid recipient 33612345678"}"#
            ),
            r#"{"code":"invalid_parameter","message":"Invalid recipient …"}"#
        );
        assert_eq!(without_numbers("error 400"), "error 400");
    }
}
