//! Who runs the service, as the pages a public service owes name it (the
//! workspace's footer pages).

/// What the pages say about who runs the service, from the settings.
#[derive(Clone, Debug)]
pub struct About {
    pub operator_name: String,
    pub operator_address: String,
    pub publication_director: String,
    pub hosting: String,
    pub dpo_email: String,
    pub support_email: String,
    pub public_url: String,
    /// Whether the addresses are set (in development they may read "à
    /// renseigner"), so the pages link to them.
    pub dpo_linked: bool,
    pub support_linked: bool,
    /// `AVIP_RETENTION` in whole days.
    pub retention_days: u64,
    /// `AVIP_ACCESS_LOG_RETENTION` in whole days.
    pub access_log_days: u64,
}

impl About {
    pub fn of(settings: &avip_app::settings::Settings) -> About {
        let p = &settings.publisher;
        let days = |d: std::time::Duration| d.as_secs() / 86_400;
        About {
            operator_name: p.operator_name.clone(),
            operator_address: p.operator_address.clone(),
            publication_director: p.publication_director.clone(),
            hosting: p.hosting.clone(),
            dpo_email: p.dpo_email.clone(),
            support_email: p.support_email.clone(),
            dpo_linked: p.dpo_email.contains('@'),
            support_linked: p.support_email.contains('@'),
            public_url: settings
                .public_url
                .as_str()
                .trim_end_matches('/')
                .to_owned(),
            retention_days: days(settings.retention),
            access_log_days: days(settings.access_log_retention),
        }
    }
}
