//! Who runs the service, as the pages a public service owes name it (the
//! workspace's footer pages).

use avip_app::settings::{Publisher, Settings};

/// What the pages say about who runs the service, from the settings.
#[derive(Clone, Debug)]
pub struct About {
    pub publisher: Publisher,
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
    pub fn of(settings: &Settings) -> About {
        let p = &settings.publisher;
        let days = |d: std::time::Duration| d.as_secs() / 86_400;
        About {
            publisher: p.clone(),
            public_url: settings
                .public_url
                .as_str()
                .trim_end_matches('/')
                .to_owned(),
            dpo_linked: p.dpo_email.contains('@'),
            support_linked: p.support_email.contains('@'),
            retention_days: days(settings.retention),
            access_log_days: days(settings.access_log_retention),
        }
    }
}
