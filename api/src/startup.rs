//! Builds the application: the pool, the migrations, the listener and the
//! HTTP server, so that `main` and the tests start the very same thing.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
pub use actix_web::dev::ServerHandle;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{Compress, ErrorHandlers};
use actix_web::{App, HttpMessage, web};
use anyhow::Context;
use avip_db::{Backend, Pool};
use tracing_actix_web::{RequestId, TracingLogger};
use utoipa_actix_web::AppExt;

use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::header;
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpResponse, ResponseError};

use crate::http::error::{ApiError, PROBLEM_JSON};
use crate::http::extract::JSON_LIMIT;
use crate::http::openapi;
use crate::shared::state::Routes;
use crate::shared::{Front, WebSettings};

use avip_app::settings::Settings;

pub struct Application {
    port: u16,
    server: Server,
    /// `GET /metrics` on `AVIP_METRICS_BIND`, and its port.
    metrics_server: Option<(Server, u16)>,
    pool: Pool,
    backend: Backend,
    policy: avip_sla_engine::ActivePolicy,
    /// The SLA engine, its scheduler and the webhooks' deliveries, when
    /// this process runs them.
    jobs: Option<avip_app::process::Jobs>,
    /// Flushed once the server has stopped: no recorded read is lost.
    access: avip_app::access_log::Recorder,
}

/// Options that only tests and embedders change.
#[derive(Clone, Copy, Debug)]
pub struct ServerOptions {
    /// HTTP worker threads; `None` lets actix choose (one per core).
    pub workers: Option<usize>,
    /// Whether SIGTERM and Ctrl-C stop the server (off for in-process tests).
    pub handle_signals: bool,
    /// Whether this process runs the SLA engine on `AVIP_SLA_SCHEDULE`
    /// (`avip serve --no-sla` turns it off).
    pub sla_engine: bool,
    /// Whether reads of personal data go to the access log. Always on for
    /// the service (no setting or flag turns it off); only the benchmark
    /// that measures the log's cost runs a server without it.
    pub record_reads: bool,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            workers: None,
            handle_signals: true,
            sla_engine: true,
            record_reads: true,
        }
    }
}

impl Application {
    /// Opens the database (failing at once with the real reason), applies
    /// pending migrations and binds `settings.bind` (port 0 picks a free one).
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        Application::build_with(settings, ServerOptions::default()).await
    }

    pub async fn build_with(
        settings: Settings,
        options: ServerOptions,
    ) -> anyhow::Result<Application> {
        let opened = {
            let settings = settings.clone();
            tokio::task::spawn_blocking(move || {
                // The phone numbers' metadata loads once, before the
                // first request rather than during it.
                avip_app::domain::referral::load_phone_metadata();
                avip_app::process::open(&settings)
            })
            .await??
        };
        let avip_app::process::Opened {
            pool,
            backend,
            policy,
            key,
        } = opened;
        if settings.jwt_secret_generated {
            tracing::warn!(
                "AVIP_JWT_SECRET is not set: tokens are signed with a random secret drawn at start \
                 and stop working when the service restarts"
            );
        }

        let listener = TcpListener::bind(&settings.bind)
            .with_context(|| format!("cannot listen on {} (AVIP_BIND)", settings.bind))?;
        let port = listener.local_addr()?.port();
        let keys = avip_app::auth::TokenKeys::from_settings(&settings)?;
        let gate = avip_db::WriteGate::with_writer(backend, pool.clone())
            .context("cannot start the database writer thread")?;
        avip_app::metrics::watch_writer(&gate);
        let access = if options.record_reads {
            avip_app::access_log::Recorder::start(pool.clone(), gate.clone())
                .context("cannot start the access log's writer")?
        } else {
            avip_app::access_log::Recorder::off()
        };
        let jobs = if options.sla_engine {
            let (policy, key) = (policy.clone(), key.clone());
            Some(avip_app::process::Jobs::start(&settings, &pool, &gate, policy, key).await?)
        } else {
            tracing::info!("the SLA engine does not run in this process (--no-sla)");
            None
        };
        let app = application(&settings, (&pool, gate, &policy, key), keys, access.clone())?;
        let state = front(&settings, app)?;
        let state = web::Data::new(state);
        let metrics_server = match &settings.metrics_bind {
            Some(address) => Some(serve_metrics(address, state.clone())?),
            None => None,
        };
        let server = serve(listener, state, options)?;
        tracing::info!(address = %settings.bind, port, database = backend.name(), "AVIP service listening");
        Ok(Application {
            port,
            server,
            metrics_server,
            pool,
            backend,
            policy,
            access,
            jobs,
        })
    }

    /// The SLA policy in force and its version.
    pub fn policy(&self) -> &avip_sla_engine::ActivePolicy {
        &self.policy
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of `AVIP_METRICS_BIND`, when set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_server.as_ref().map(|(_, port)| *port)
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A handle that stops the server gracefully.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until the server is stopped (SIGTERM, Ctrl-C or a handle),
    /// then stops the SLA engine.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let server = self.server;
        let served = match self.metrics_server {
            // The metrics stop with the main server.
            Some((metrics, _)) => {
                let handle = metrics.handle();
                let main = async move {
                    let served = server.await;
                    handle.stop(true).await;
                    served
                };
                futures_util::future::join(main, metrics).await.0
            }
            None => server.await,
        };
        let access = self.access.clone();
        let _ = tokio::task::spawn_blocking(move || access.flush()).await;
        if let Some(jobs) = self.jobs {
            jobs.stop().await;
        }
        served
    }
}

/// The middleware hook that turns every error response not already a problem
/// (unknown route, wrong method, oversized body…) into one.
pub fn problem_for_bare_errors<B>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    let is_page = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if is_problem || is_page {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (req, _) = res.into_parts();
    let response: HttpResponse<EitherBody<B, BoxBody>> = if req.path().starts_with("/app/") {
        // The workspace answers in French, with a page.
        crate::web::bare_error(status).map_into_right_body()
    } else {
        let error = ApiError::from_status(status, req.method().as_str(), req.path());
        error.error_response().map_into_right_body()
    };
    Ok(ErrorHandlerResponse::Response(ServiceResponse::new(
        req, response,
    )))
}

/// The state both front-ends extract: the application's, the served
/// OpenAPI document and the workspace's settings.
fn front(settings: &Settings, app: avip_app::App) -> anyhow::Result<Front> {
    let oidc = match &settings.oidc {
        Some(oidc) => Some(std::sync::Arc::new(
            avip_app::auth::oidc::Provider::new(
                oidc.clone(),
                settings.public_url.as_str().trim_end_matches('/'),
                settings.env,
            )
            .context("cannot set up the OpenID Connect client")?,
        )),
        None => None,
    };
    Ok(Front {
        app,
        openapi: web::Bytes::from(openapi::document_json()),
        routes: Routes::of(&openapi::document()),
        web: WebSettings {
            secure_cookies: settings.env == avip_app::settings::Environment::Production,
            oidc,
            about: crate::shared::About::of(settings),
        },
        metrics_elsewhere: settings.metrics_bind.is_some(),
    })
}

/// No route matched: a known path with another method is 405 with the
/// methods it answers in `Allow` (RFC 9110), anything else 404.
async fn unmatched(
    req: actix_web::HttpRequest,
    state: crate::shared::State,
) -> Result<actix_web::HttpResponse, ApiError> {
    use actix_web::http::StatusCode;
    let (method, path) = (req.method().as_str(), req.path());
    Err(match state.routes.allowed(path) {
        Some(allow) => match ApiError::from_status(StatusCode::METHOD_NOT_ALLOWED, method, path) {
            ApiError::Status(_, problem) => ApiError::MethodNotAllowed {
                problem,
                allow: allow.to_owned(),
            },
            other => other,
        },
        None if req.resource_map().has_resource(path) => {
            ApiError::from_status(StatusCode::METHOD_NOT_ALLOWED, method, path)
        }
        None => ApiError::from_status(StatusCode::NOT_FOUND, method, path),
    })
}

/// Which part of the service answers, for its security headers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Area {
    /// `/api/…`: personal data and tokens.
    Api,
    /// `/docs/…`: a page.
    Page,
    /// `/app/…`: the workspace's pages (families' data) and its assets.
    Workspace,
    WorkspaceAsset,
    Other,
}

impl Area {
    fn of(path: &str) -> Area {
        if path.starts_with("/api/") {
            Area::Api
        } else if path.starts_with("/app/static/") {
            Area::WorkspaceAsset
        } else if path == "/app" || path.starts_with("/app/") {
            Area::Workspace
        } else if path == "/docs" || path.starts_with("/docs/") {
            Area::Page
        } else {
            Area::Other
        }
    }
}

/// The workspace's pages load nothing but their own scripts, styles and
/// images, run no inline script, post forms only to themselves (and, with
/// ProConnect, to the provider: the sign-out form's answer sends the
/// browser to its end-session endpoint) and are never framed.
fn workspace_csp(oidc_issuer: Option<&str>) -> HeaderValue {
    let provider = oidc_issuer
        .and_then(|i| url::Url::parse(i).ok())
        .map(|u| format!(" {}", u.origin().ascii_serialization()))
        .unwrap_or_default();
    let csp = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; form-action 'self'{provider}; base-uri 'none'; \
         frame-ancestors 'none'"
    );
    HeaderValue::from_str(&csp).unwrap_or_else(|_| {
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        )
    })
}

/// Headers every answer carries: no content sniffing, no referrer; API
/// answers (families' data, tokens) are never stored by a cache; pages are
/// never framed by another site.
/// Two years, sub-domains included: what browsers' preload lists ask for.
const HSTS: &str = "max-age=63072000; includeSubDomains";

fn security_headers(
    headers: &mut actix_web::http::header::HeaderMap,
    area: Area,
    workspace_csp: &HeaderValue,
    hsts: bool,
) {
    use actix_web::http::header;
    let mut set = |name: header::HeaderName, value: &'static str| {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    };
    if hsts {
        set(header::STRICT_TRANSPORT_SECURITY, HSTS);
    }
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "no-referrer");
    match area {
        Area::Api => set(header::CACHE_CONTROL, "no-store"),
        Area::Page => {
            set(header::CONTENT_SECURITY_POLICY, "frame-ancestors 'none'");
            set(header::X_FRAME_OPTIONS, "DENY");
        }
        Area::Workspace => {
            set(header::CACHE_CONTROL, "no-store");
            set(header::X_FRAME_OPTIONS, "DENY");
            if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
                headers.insert(header::CONTENT_SECURITY_POLICY, workspace_csp.clone());
            }
        }
        Area::WorkspaceAsset => {
            if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
                headers.insert(header::CONTENT_SECURITY_POLICY, workspace_csp.clone());
            }
        }
        Area::Other => {}
    }
}

/// How long a stop waits for requests in flight before closing their
/// connections.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Asks the kernel to close a connection whose sent data has waited
/// unacknowledged (or behind a zero window) for `timeout` (Linux's
/// `TCP_USER_TIMEOUT`): a client that stops reading mid-answer does not keep
/// its connection for ever. Idle keep-alive connections are not affected.
fn give_up_on_stalled_writes(connection: &dyn std::any::Any, timeout: Duration) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Some(stream) = connection.downcast_ref::<actix_web::rt::net::TcpStream>()
        && let Err(e) = socket2::SockRef::from(stream).set_tcp_user_timeout(Some(timeout))
    {
        tracing::debug!(error = %e, "TCP_USER_TIMEOUT not set");
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = (connection, timeout);
}

/// `GET /metrics` alone, on its own address (one worker).
fn serve_metrics(address: &str, state: web::Data<Front>) -> anyhow::Result<(Server, u16)> {
    let listener = TcpListener::bind(address)
        .with_context(|| format!("cannot listen on {address} (AVIP_METRICS_BIND)"))?;
    let port = listener.local_addr()?.port();
    let server = actix_web::HttpServer::new(move || {
        App::new().app_data(state.clone()).route(
            "/metrics",
            web::get().to(|state: crate::shared::State| async move {
                crate::http::meta::metrics_answer(&state).await
            }),
        )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .shutdown_timeout(1)
    .run();
    tracing::info!(address, port, "metrics served");
    Ok((server, port))
}

fn serve(
    listener: TcpListener,
    state: web::Data<Front>,
    options: ServerOptions,
) -> anyhow::Result<Server> {
    let write_timeout = state.limits.write_timeout;
    let csp = workspace_csp(state.web.oidc.as_ref().map(|p| p.issuer()));
    // Production is served over https only (its public URL must be one):
    // browsers are told to keep to it.
    let hsts = state.web.secure_cookies;
    let mut server = actix_web::HttpServer::new(move || {
        let workspace_csp = csp.clone();
        let (app, _) = App::new()
            .into_utoipa_app()
            .app_data(state.clone())
            .app_data(web::PayloadConfig::new(JSON_LIMIT))
            .configure(crate::http::configure)
            .split_for_parts();
        app.service(openapi::swagger_ui())
            .configure(crate::web::configure)
            .default_service(web::to(unmatched))
            .wrap(ErrorHandlers::new().default_handler(problem_for_bare_errors))
            .wrap(Compress::default())
            .wrap_fn(move |req, srv| {
                use actix_web::dev::Service;
                let workspace_csp = workspace_csp.clone();
                let request_id = req.extensions().get::<RequestId>().map(|id| id.to_string());
                let area = Area::of(req.path());
                let started = std::time::Instant::now();
                let fut = srv.call(req);
                async move {
                    let mut res = fut.await?;
                    let route = res.request().match_pattern();
                    avip_app::metrics::http_request(
                        route.as_deref().unwrap_or("unmatched"),
                        res.request().method().as_str(),
                        res.status().as_u16(),
                        started.elapsed(),
                    );
                    if let Some(value) = request_id.and_then(|id| HeaderValue::from_str(&id).ok()) {
                        res.headers_mut()
                            .insert(HeaderName::from_static("x-request-id"), value);
                    }
                    security_headers(res.headers_mut(), area, &workspace_csp, hsts);
                    Ok(res)
                }
            })
            .wrap(TracingLogger::<crate::shared::request_span::RequestSpan>::new())
    })
    .on_connect(move |connection, _| give_up_on_stalled_writes(connection, write_timeout))
    .listen(listener)?
    .shutdown_timeout(SHUTDOWN_GRACE.as_secs());
    if let Some(workers) = options.workers {
        server = server.workers(workers);
    }
    if !options.handle_signals {
        server = server.disable_signals();
    }
    Ok(server.run())
}

/// The application layer both front-ends call, over the opened database.
fn application(
    settings: &Settings,
    (pool, gate, policy, key): (
        &Pool,
        avip_db::WriteGate,
        &avip_sla_engine::ActivePolicy,
        avip_app::exports::PseudonymKey,
    ),
    keys: avip_app::auth::TokenKeys,
    access: avip_app::access_log::Recorder,
) -> anyhow::Result<avip_app::App> {
    Ok(avip_app::App {
        pool: pool.clone(),
        gate,
        policy: policy.clone(),
        schedule: avip_app::state::SlaSchedule {
            schedule: settings.sla_schedule.clone(),
            digest: settings.sla_digest,
        },
        hold: avip_app::workflow::places::OfferHold::new(settings.offer_hold),
        waiting_review: settings.waiting_review,
        pseudonym_key: key,
        keys,
        limits: avip_app::limits::Limits::new(settings),
        access,
        identities: avip_app::auth::cache::Identities::watched(pool.clone())
            .context("cannot start the identity cache's thread")?,
        public_url: settings
            .public_url
            .as_str()
            .trim_end_matches('/')
            .to_owned(),
        webhook_targets: avip_app::webhooks::Targets::of(settings),
    })
}
