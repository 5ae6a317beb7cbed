//! The spreadsheet form both front-ends receive (`multipart/form-data`):
//! the crèche, what the rows are, the file, and the workspace's CSRF token.
//! Each part is read within its limit; an unknown part is refused.

use actix_multipart::Multipart;
use futures_util::StreamExt;

use avip_app::domain::DomainError;

/// The parts of an upload.
#[derive(Default)]
pub struct Upload {
    pub creche_id: Option<String>,
    pub kind: Option<String>,
    /// The file's name as sent, and its bytes.
    pub file: Option<(String, Vec<u8>)>,
    pub csrf: Option<String>,
}

fn invalid(field: &str, reason: String) -> DomainError {
    DomainError::invalid(field, reason)
}

pub async fn read(mut form: Multipart) -> Result<Upload, DomainError> {
    let mut upload = Upload::default();
    while let Some(field) = form.next().await {
        let mut field =
            field.map_err(|e| invalid("file", format!("the form cannot be read: {e}")))?;
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = (field.content_disposition())
            .and_then(|d| d.get_filename())
            .filter(|n| !n.is_empty())
            .map(str::to_owned);
        let limit = if name == "file" {
            avip_app::imports::read::MAX_BYTES
        } else {
            200
        };
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| invalid(&name, format!("cannot be read: {e}")))?;
            if bytes.len() + chunk.len() > limit {
                let why = if name == "file" {
                    "is larger than 10 MB"
                } else {
                    "is too long"
                };
                return Err(invalid(&name, why.to_owned()));
            }
            bytes.extend_from_slice(&chunk);
        }
        let text = || String::from_utf8_lossy(&bytes).trim().to_owned();
        match name.as_str() {
            "creche_id" => upload.creche_id = Some(text()),
            "kind" => upload.kind = Some(text()),
            "csrf" => upload.csrf = Some(text()),
            "file" => {
                upload.file = Some((file_name.unwrap_or_else(|| "import".into()), bytes));
            }
            other => return Err(invalid(other, "is not a part of the upload".to_owned())),
        }
    }
    Ok(upload)
}
