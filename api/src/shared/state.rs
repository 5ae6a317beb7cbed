//! What both front-ends run with: the application's state ([`App`], which
//! they reach through `Deref`) and what only the front-ends need (the served
//! OpenAPI document, the workspace's settings).

use actix_web::web;
use avip_app::App;

/// The one state every handler and page extracts.
pub struct Front {
    pub app: App,
    /// The OpenAPI document, serialised once.
    pub openapi: web::Bytes,
    /// The methods of each documented path (the `Allow` of a 405).
    pub routes: Routes,
    /// What the web workspace needs.
    pub web: WebSettings,
    /// `GET /metrics` is served on `AVIP_METRICS_BIND`, not here.
    pub metrics_elsewhere: bool,
}

impl std::ops::Deref for Front {
    type Target = App;
    fn deref(&self) -> &App {
        &self.app
    }
}

/// What handlers and pages extract.
pub type State = web::Data<Front>;

/// What the workspace needs from the settings.
#[derive(Clone, Debug)]
pub struct WebSettings {
    /// `Secure` cookies (production, served over https).
    pub secure_cookies: bool,
    /// The OpenID Connect provider (ProConnect), when `AVIP_OIDC_ISSUER` is
    /// set.
    pub oidc: Option<std::sync::Arc<avip_app::auth::oidc::Provider>>,
    /// Who runs the service, for the pages a public service owes.
    pub about: super::About,
}

/// Each documented path template with the methods it answers, for the
/// `Allow` header of a 405.
pub struct Routes(Vec<(Vec<String>, String)>);

impl Routes {
    pub fn of(doc: &utoipa::openapi::OpenApi) -> Routes {
        let routes = doc
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods: Vec<&str> = [
                    ("GET", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ]
                .into_iter()
                .filter_map(|(m, present)| present.then_some(m))
                .collect();
                (
                    path.split('/').map(str::to_owned).collect(),
                    methods.join(", "),
                )
            })
            .collect();
        Routes(routes)
    }

    /// The methods a path answers (`GET, POST`), if it is one of ours.
    pub fn allowed(&self, path: &str) -> Option<&str> {
        let segments: Vec<&str> = path.split('/').collect();
        self.0
            .iter()
            .find(|(template, _)| {
                template.len() == segments.len()
                    && template
                        .iter()
                        .zip(&segments)
                        .all(|(t, s)| t == s || (t.starts_with('{') && !s.is_empty()))
            })
            .map(|(_, methods)| methods.as_str())
    }
}
