//! Sending webhooks (Standard Webhooks): where a subscription may point
//! (against server-side request forgery), its signing secret, and the
//! dispatcher that sends due deliveries, signed, until a 2xx answers.
//!
//! Every attempt of a delivery carries the same `webhook-id` (the
//! delivery's id), a `webhook-timestamp` of the attempt, and
//! `webhook-signature: v1,<base64 HMAC-SHA256>` of
//! `<id>.<timestamp>.<body>` under the subscription's secret, signed by the
//! `standardwebhooks` crate. Only a 2xx within 10 s counts; redirects are
//! not followed; the connection goes only to an address checked when it is
//! resolved (see `CheckedResolver`).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use avip_db::model::{NotificationKind, to_db_time};
use avip_db::notifications::{self, Content, Notification};
use avip_db::webhooks::{self, Attempt, Delivery, Webhook, WebhookChanges};
use avip_db::{Pool, WriteGate};
use chrono::{DateTime, Utc};

/// How long a receiver has to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Deliveries taken per round.
const BATCH: i64 = 50;

/// Which targets a subscription may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Targets {
    /// `https` to public addresses only (production).
    Public,
    /// Also `http` and loopback addresses (development and tests).
    AlsoLoopback,
}

/// Whether an address is one a webhook must never reach in production:
/// anything in IANA's IPv4 and IPv6 special-purpose address registries that
/// is not globally reachable (loopback, private, shared, link-local,
/// documentation, benchmarking, reserved, multicast…), and every IPv6 form
/// that embeds an IPv4 address (mapped, compatible, NAT64, 6to4, Teredo)
/// unless the embedded address itself is public. Forms whose embedded
/// address cannot be read back (Teredo's is obfuscated, local-use NAT64 is
/// private by definition) are refused whole.
pub fn forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(v4: std::net::Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_multicast()
        || v4.is_broadcast()
        || v4.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        // IETF protocol assignments, 192.0.0.0/24.
        || (a == 192 && b == 0 && c == 0)
        // The deprecated 6to4 relay anycast, 192.88.99.0/24.
        || (a == 192 && b == 88 && c == 99)
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240
}

/// What an IPv6 address is, for [`forbidden_v6`].
#[derive(Debug, PartialEq, Eq)]
enum V6Kind {
    /// Carries an IPv4 address that decides.
    Embeds(std::net::Ipv4Addr),
    /// In a special-purpose range that is not globally reachable.
    Special,
    Global,
}

fn classify_v6(v6: std::net::Ipv6Addr) -> V6Kind {
    use std::net::Ipv4Addr;
    let s = v6.segments();
    let low32 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if let Some(mapped) = v6.to_ipv4_mapped() {
        return V6Kind::Embeds(mapped);
    }
    match s[0] {
        // NAT64, well-known prefix 64:ff9b::/96: the last 32 bits.
        0x0064 if s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] => V6Kind::Embeds(low32),
        // Loopback, unspecified, IPv4-compatible (::/96, deprecated),
        // local-use NAT64 (64:ff9b:1::/48, private by definition) and the
        // rest of ::/8, reserved by the IETF.
        first if first & 0xff00 == 0 => V6Kind::Special,
        // Discard-only, 100::/64.
        0x0100 if s[1..4] == [0, 0, 0] => V6Kind::Special,
        // IETF protocol assignments 2001::/23: Teredo 2001::/32 (its
        // client's IPv4 is obfuscated), benchmarking, ORCHID…
        0x2001 if s[1] < 0x0200 => V6Kind::Special,
        // Documentation, 2001:db8::/32.
        0x2001 if s[1] == 0x0db8 => V6Kind::Special,
        // 6to4, 2002::/16: the IPv4 address in bits 16 to 47.
        0x2002 => V6Kind::Embeds(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        )),
        // Documentation, 3fff::/20.
        0x3fff if s[1] < 0x1000 => V6Kind::Special,
        // Segment Routing SIDs, 5f00::/16.
        0x5f00 => V6Kind::Special,
        // Unique local fc00::/7, link-local fe80::/10, site-local fec0::/10
        // (deprecated), multicast ff00::/8.
        first if first & 0xfe00 == 0xfc00 || first & 0xffc0 == 0xfe80 => V6Kind::Special,
        first if first & 0xffc0 == 0xfec0 || first & 0xff00 == 0xff00 => V6Kind::Special,
        _ => V6Kind::Global,
    }
}

fn forbidden_v6(v6: std::net::Ipv6Addr) -> bool {
    match classify_v6(v6) {
        V6Kind::Embeds(v4) => forbidden_v4(v4),
        V6Kind::Special => true,
        V6Kind::Global => false,
    }
}

impl Targets {
    /// Production accepts public targets only.
    pub fn of(settings: &crate::settings::Settings) -> Targets {
        match settings.env {
            crate::settings::Environment::Production => Targets::Public,
            crate::settings::Environment::Development => Targets::AlsoLoopback,
        }
    }
}

fn allowed(ip: IpAddr, targets: Targets) -> bool {
    !forbidden(ip) || (targets == Targets::AlsoLoopback && ip.is_loopback())
}

/// Checks a subscription's URL: its scheme, and every address its host
/// resolves to now. Before each attempt, [`check_url`] runs again and the
/// dispatcher's resolver checks the addresses it connects to.
pub async fn check_target(url: &str, targets: Targets) -> Result<url::Url, String> {
    let parsed = check_url(url, targets)?;
    if let Some(url::Host::Domain(host)) = parsed.host() {
        let port = parsed.port_or_known_default().unwrap_or(443);
        let addresses = resolve(host, port).await?;
        if let Some(bad) = addresses.iter().find(|a| !allowed(a.ip(), targets)) {
            return Err(refused_address(bad.ip()));
        }
    }
    Ok(parsed)
}

/// What needs no name resolution: the scheme, no credentials, and the
/// address itself when the host is an IP literal (which no resolver sees).
fn check_url(url: &str, targets: Targets) -> Result<url::Url, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("is not a URL: {e}"))?;
    match (parsed.scheme(), targets) {
        ("https", _) | ("http", Targets::AlsoLoopback) => {}
        _ => return Err("must be an https:// URL".into()),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not carry a user name or password".into());
    }
    let literal = match parsed.host() {
        None => return Err("has no host".into()),
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        Some(url::Host::Domain(_)) => None,
    };
    if let Some(ip) = literal.filter(|ip| !allowed(*ip, targets)) {
        return Err(refused_address(ip));
    }
    Ok(parsed)
}

fn refused_address(ip: IpAddr) -> String {
    format!("resolves to {ip}, a loopback, private or reserved address")
}

async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    let lookup = tokio::net::lookup_host((host, port));
    let found: Vec<SocketAddr> = tokio::time::timeout(Duration::from_secs(3), lookup)
        .await
        .map_err(|_| "its host does not resolve within 3 s".to_owned())?
        .map_err(|e| format!("its host does not resolve: {e}"))?
        .collect();
    if found.is_empty() {
        return Err("its host does not resolve".into());
    }
    Ok(found)
}

/// The dispatcher's name resolution: only the addresses a webhook may
/// reach. The URL was checked before the attempt, but a host's answer may
/// change between that check and the connection (DNS rebinding); the
/// connection itself goes only to an address checked here. (An IP literal
/// is not resolved, and `check_url` checked it.)
struct CheckedResolver(Targets);

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let targets = self.0;
        Box::pin(async move {
            let found = resolve(name.as_str(), 0).await?;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| allowed(a.ip(), targets))
                .collect();
            if allowed.is_empty() {
                return Err(
                    "the host resolves only to loopback, private or reserved addresses".into(),
                );
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// A new signing secret, `whsec_` and 32 random bytes in base64.
pub fn new_secret() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the system has a random source");
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// Starts the dispatcher of this process: a round every second.
pub fn spawn(
    settings: &crate::settings::Settings,
    pool: Pool,
    gate: WriteGate,
) -> anyhow::Result<Running> {
    let dispatcher = Dispatcher::new(
        pool,
        gate,
        Targets::of(settings),
        settings.webhook_retry.clone(),
        settings.public_url.as_str(),
    )?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(dispatcher.run(Duration::from_secs(1), stopped));
    Ok(Running { stop, task })
}

/// The dispatcher of this process, running.
pub struct Running {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops after the round in progress, if any. Its deliveries are claimed
    /// under a lease: cut short, they would wait for the lease to end (a
    /// minute) before another process, or this one restarted, tried them
    /// again. A round lasts at most one attempt's time-out, and a little
    /// more to record what the attempts got; after that it is cut short.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let abort = self.task.abort_handle();
        if tokio::time::timeout(TIMEOUT + Duration::from_secs(5), self.task)
            .await
            .is_err()
        {
            tracing::warn!("a round of webhook deliveries was cut short by the stop");
            abort.abort();
        }
    }
}

/// Sends due deliveries; one per process that runs the SLA engine.
#[derive(Clone)]
pub struct Dispatcher {
    pool: Pool,
    gate: WriteGate,
    client: reqwest::Client,
    targets: Targets,
    /// The waits between attempts.
    retry: Arc<Vec<Duration>>,
    public_url: String,
}

impl Dispatcher {
    pub fn new(
        pool: Pool,
        gate: WriteGate,
        targets: Targets,
        retry: Vec<Duration>,
        public_url: &str,
    ) -> anyhow::Result<Dispatcher> {
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(CheckedResolver(targets)))
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("avip-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Dispatcher {
            pool,
            gate,
            client,
            targets,
            retry: Arc::new(retry),
            public_url: public_url.trim_end_matches('/').to_owned(),
        })
    }

    /// Runs rounds every `every` until `stop` turns true (or its sender is
    /// gone); a round in progress is finished first.
    pub async fn run(self, every: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.wait_for(|stop| *stop) => return,
            }
            if let Err(e) = self.round(Utc::now()).await {
                tracing::warn!(error = %e, "webhook deliveries could not be read; trying again");
            }
        }
    }

    /// Claims what is due and sends it, several at once. Returns how many
    /// deliveries were attempted.
    pub async fn round(&self, now: DateTime<Utc>) -> Result<usize, avip_db::QueryError> {
        let lease = to_db_time(now + chrono::Duration::seconds(60));
        let due = avip_db::blocking::write(&self.pool, &self.gate, move |conn| {
            avip_db::write_transaction(conn, |conn| {
                webhooks::claim_due(conn, to_db_time(now), lease, BATCH)
            })
        })
        .await?;
        let count = due.len();
        let sends = due
            .into_iter()
            .map(|(delivery, hook)| self.attempt(delivery, hook));
        futures_util::future::join_all(sends).await;
        Ok(count)
    }

    async fn attempt(&self, delivery: Delivery, hook: Webhook) {
        let at = Utc::now();
        let (status_code, error) = self.send(&delivery, &hook, at).await;
        let delivered = status_code.is_some_and(|c| (200..300).contains(&c));
        let retry =
            if delivered {
                None
            } else {
                let attempt = usize::try_from(delivery.attempts).unwrap_or(usize::MAX);
                Some(self.retry.get(attempt).map(|wait| {
                    to_db_time(at + chrono::Duration::from_std(*wait).unwrap_or_default())
                }))
            };
        let failed = retry == Some(None);
        let outcome = Attempt {
            at: to_db_time(at),
            status_code,
            error: error.clone(),
            retry,
        };
        let id = delivery.id.clone();
        let public_url = self.public_url.clone();
        let written = avip_db::blocking::write(&self.pool, &self.gate, move |conn| {
            avip_db::write_transaction(conn, |conn| {
                webhooks::record_attempt(conn, &id, &outcome)?;
                if failed {
                    disable(conn, &hook, &public_url, at)?;
                }
                Ok::<_, avip_db::QueryError>(())
            })
        })
        .await;
        if let Err(e) = written {
            tracing::error!(delivery = %delivery.id, error = %e, "a webhook attempt could not be recorded; it will be sent again");
        }
        match (delivered, &error) {
            (true, _) => {
                tracing::info!(delivery = %delivery.id, event = %delivery.event_type, "webhook delivered")
            }
            (false, e) => tracing::warn!(delivery = %delivery.id, event = %delivery.event_type,
                status = ?status_code, error = ?e, failed, "webhook not delivered"),
        }
    }

    /// One POST; the answer's status, or why there was none.
    async fn send(
        &self,
        delivery: &Delivery,
        hook: &Webhook,
        at: DateTime<Utc>,
    ) -> (Option<i32>, Option<String>) {
        // Host names are checked by the client's resolver (`CheckedResolver`)
        // as it connects; what it cannot see is checked here.
        if let Err(why) = check_url(&hook.url, self.targets) {
            return (None, Some(format!("target refused: the URL {why}")));
        }
        let signer = match standardwebhooks::Webhook::new(&hook.secret) {
            Ok(s) => s,
            Err(e) => return (None, Some(format!("the secret is unusable: {e}"))),
        };
        let timestamp = at.timestamp();
        let id = delivery.id.to_string();
        let signature = match signer.sign(&id, timestamp, delivery.payload.as_bytes()) {
            Ok(s) => s,
            Err(e) => return (None, Some(format!("cannot sign: {e}"))),
        };
        let answer = self
            .client
            .post(&hook.url)
            .header("content-type", "application/json")
            .header(standardwebhooks::HEADER_WEBHOOK_ID, &id)
            .header(
                standardwebhooks::HEADER_WEBHOOK_TIMESTAMP,
                timestamp.to_string(),
            )
            .header(standardwebhooks::HEADER_WEBHOOK_SIGNATURE, signature)
            .body(delivery.payload.clone())
            .send()
            .await;
        match answer {
            Ok(response) => {
                let status = i32::from(response.status().as_u16());
                let ok = response.status().is_success();
                (Some(status), (!ok).then(|| format!("answered {status}")))
            }
            Err(e) => (None, Some(short(&e))),
        }
    }
}

fn short(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "no answer within 10 s".into()
    } else if e.is_connect() {
        "connection refused or unreachable".into()
    } else {
        "the request failed".into()
    }
}

/// A delivery ran out of attempts: the subscription stops, and the
/// organisation's active people are told by e-mail (once per disabling).
fn disable(
    conn: &mut avip_db::DbConnection,
    hook: &Webhook,
    public_url: &str,
    at: DateTime<Utc>,
) -> Result<(), avip_db::QueryError> {
    let reason = "its deliveries failed for every attempt of the retry schedule";
    webhooks::update(
        conn,
        &hook.id,
        &WebhookChanges {
            active: Some(false),
            disabled_reason: Some(Some(reason.to_owned())),
            updated_at: Some(to_db_time(at)),
            ..WebhookChanges::default()
        },
    )?;
    let recipients = avip_db::users::active_emails_of(conn, &hook.organization_id)?;
    tracing::warn!(webhook = %hook.id, "webhook disabled after its last failed attempt");
    if recipients.is_empty() {
        return Ok(());
    }
    let subject = "[AVIP] Abonnement webhook désactivé".to_owned();
    let text = format!(
        "Bonjour,\n\nLes envois vers l'adresse {url} échouent depuis plus de 24 heures : \
         l'abonnement webhook {id} de votre organisation a été désactivé.\n\n\
         Les événements restent lisibles par le flux des changements \
         ({public_url}/api/v1/referrals/changes). Une fois le récepteur réparé, \
         réactivez l'abonnement (PATCH /api/v1/webhooks/{id} avec {{\"active\": true}}) \
         et renvoyez les livraisons manquées \
         (POST /api/v1/webhooks/{id}/deliveries/<id>/retry).\n\n--\nAVIP, suivi des orientations\n",
        url = hook.url,
        id = hook.id,
    );
    let html = format!(
        "<!DOCTYPE html><html lang=\"fr\"><head><meta charset=\"utf-8\"><title>{subject}</title></head><body><pre>{}</pre></body></html>",
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    );
    let now = to_db_time(at);
    notifications::insert(
        conn,
        &Notification::pending(
            format!("webhook_disabled:{}:{}", hook.id, now.and_utc().timestamp()),
            NotificationKind::WebhookDisabled,
            &recipients,
            Content {
                subject,
                text,
                html,
            },
            now,
        ),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_reserved_addresses_are_forbidden_public_ones_not() {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(forbidden(bad.parse().unwrap()), "{bad}");
        }
        for good in ["93.184.216.34", "2606:4700:4700::1111", "8.8.8.8"] {
            assert!(!forbidden(good.parse().unwrap()), "{good}");
        }
    }

    /// Each prefix of the special-purpose registries, and each form that
    /// embeds an IPv4 address: refused with a private one inside, allowed
    /// with a public one where the form can carry it.
    #[test]
    fn ipv6_forms_that_embed_an_ipv4_address_are_judged_by_it() {
        for (bad, what) in [
            ("::ffff:127.0.0.1", "IPv4-mapped loopback"),
            ("::ffff:192.168.0.1", "IPv4-mapped private"),
            ("::127.0.0.1", "IPv4-compatible"),
            ("::8.8.8.8", "IPv4-compatible, deprecated whatever it holds"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("64:ff9b::7f00:1", "NAT64 of 127.0.0.1"),
            ("64:ff9b::a00:1", "NAT64 of 10.0.0.1"),
            ("64:ff9b::a9fe:a9fe", "NAT64 of 169.254.169.254"),
            ("64:ff9b:1::8.8.8.8", "local-use NAT64"),
            ("100::1", "discard-only"),
            ("2001::1", "Teredo"),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
            ("2001:2::1", "benchmarking"),
            ("2001:20::1", "ORCHIDv2"),
            ("2001:db8::1", "documentation"),
            ("3fff::1", "documentation (RFC 9637)"),
            ("2002:7f00:1::", "6to4 of 127.0.0.1"),
            ("2002:c0a8:101::1", "6to4 of 192.168.1.1"),
            ("2002:a9fe:a9fe::1", "6to4 of 169.254.169.254"),
            ("5f00::1", "SRv6 SID"),
            ("fc00::1", "unique local"),
            ("fd12:3456::1", "unique local"),
            ("fe80::1", "link-local"),
            ("fec0::1", "site-local"),
            ("ff02::1", "multicast"),
        ] {
            assert!(forbidden(bad.parse().unwrap()), "{bad}: {what}");
        }
        for good in [
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2001:4860:4860::8888",
            "2a00:1450:4007:80e::200e",
        ] {
            assert!(!forbidden(good.parse().unwrap()), "{good}");
        }
        for (bad, what) in [
            ("192.0.0.8", "IETF protocol assignments"),
            ("192.88.99.1", "6to4 relay anycast"),
            ("198.18.0.1", "benchmarking"),
            ("240.0.0.1", "reserved"),
        ] {
            assert!(forbidden(bad.parse().unwrap()), "{bad}: {what}");
        }
        assert!(allowed("127.0.0.1".parse().unwrap(), Targets::AlsoLoopback));
        assert!(!allowed("10.0.0.1".parse().unwrap(), Targets::AlsoLoopback));
        assert!(!allowed("127.0.0.1".parse().unwrap(), Targets::Public));
    }

    #[tokio::test]
    async fn production_wants_https_to_a_public_address() {
        for (url, why) in [
            ("http://example.org/hook", "https"),
            ("https://127.0.0.1/hook", "loopback"),
            ("https://[::1]:8443/hook", "loopback"),
            ("https://10.0.0.8/hook", "private"),
            ("https://169.254.169.254/latest/meta-data", "private"),
            ("https://localhost/hook", "loopback"),
            ("https://user:pw@203.0.113.9/hook", "password"),
            ("not a url", "URL"),
        ] {
            let refused = check_target(url, Targets::Public).await.unwrap_err();
            assert!(refused.contains(why), "{url}: {refused}");
        }
        assert!(
            check_target("http://127.0.0.1:9/x", Targets::AlsoLoopback)
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn the_connection_goes_only_to_addresses_checked_when_resolved() {
        // A listener that accepts and never answers.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://localhost:{}/",
            listener.local_addr().unwrap().port()
        );
        let client = |targets| {
            reqwest::Client::builder()
                .dns_resolver(Arc::new(CheckedResolver(targets)))
                .timeout(Duration::from_millis(500))
                .build()
                .unwrap()
        };
        let refused = client(Targets::Public).get(&url).send().await.unwrap_err();
        assert!(!refused.is_timeout(), "{refused:?}");
        assert!(format!("{refused:?}").contains("loopback"), "{refused:?}");
        // In development the same name reaches the listener (and waits).
        let reached = client(Targets::AlsoLoopback)
            .get(&url)
            .send()
            .await
            .unwrap_err();
        assert!(reached.is_timeout(), "{reached:?}");
    }

    #[test]
    fn secrets_are_standard_webhooks_secrets() {
        let secret = new_secret();
        assert!(secret.starts_with("whsec_"));
        assert!(standardwebhooks::Webhook::new(&secret).is_ok());
        assert_ne!(secret, new_secret());
    }
}
