//! HTML forms read into the API's own request types: a field is named by
//! its path in the JSON body (`parent.phone`, `children[0].birth_date`), so
//! that the same deserialisation and the same rules check it, and each
//! refusal comes back named by the field the page shows it next to.

use std::collections::BTreeMap;

use actix_web::web;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::web::{WebError, fr};
use avip_app::domain::DomainError;

/// How a form field becomes a JSON value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A string; empty is absent.
    Text,
    /// A string that must be given.
    Required,
    /// A checkbox: present is `true`, absent `false`.
    Flag,
    /// A whole number; empty is absent.
    Number,
    /// Every value of a repeated field (checkboxes), as a list.
    Many,
}

/// A posted form.
#[derive(Clone, Debug, Default)]
pub struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    /// Reads a form body of at most 64 KiB, none of whose fields holds a
    /// control character (the rule of every text received, see
    /// [`avip_app::domain::input`]).
    pub fn read(body: &web::Bytes) -> Result<Form, WebError> {
        if body.len() > 64 * 1024 {
            return Err(WebError::TooLarge);
        }
        let pairs: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
        if let Some(field) = avip_app::domain::input::first_refused_pair(
            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        ) {
            return Err(WebError::ControlCharacter { field });
        }
        Ok(Form { pairs })
    }

    /// The first value of `name`, or "".
    pub fn get(&self, name: &str) -> &str {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// Whether a checkbox was ticked, or `value` is among a field's values.
    pub fn has(&self, name: &str, value: &str) -> bool {
        self.pairs.iter().any(|(k, v)| k == name && v == value)
    }

    /// Every value of a repeated field (ticked checkboxes).
    pub fn values(&self, name: &str) -> Vec<String> {
        (self.pairs.iter())
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn checked(&self, name: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == name)
    }

    pub fn csrf(&self) -> Option<&str> {
        Some(self.get("csrf")).filter(|v| !v.is_empty())
    }

    /// A form pre-filled with these values.
    pub fn with(pairs: &[(&str, &str)]) -> Form {
        Form {
            pairs: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    /// The same form with `name` set to `value` only (`None`: without it).
    pub fn set(&self, name: &str, value: Option<&str>) -> Form {
        let mut pairs: Vec<(String, String)> = self
            .pairs
            .iter()
            .filter(|(k, _)| k != name)
            .cloned()
            .collect();
        if let Some(value) = value {
            pairs.push((name.to_owned(), value.to_owned()));
        }
        Form { pairs }
    }

    /// The JSON body these fields make.
    pub fn to_json(&self, fields: &[(&str, Kind)]) -> Value {
        let mut root = Value::Object(Map::new());
        for (name, kind) in fields {
            let value = match kind {
                Kind::Flag => Some(Value::Bool(self.checked(name))),
                Kind::Many => Some(Value::Array(
                    self.pairs
                        .iter()
                        .filter(|(k, _)| k == name)
                        .map(|(_, v)| Value::String(v.clone()))
                        .collect(),
                )),
                Kind::Text | Kind::Required => Some(self.get(name))
                    .filter(|v| !v.trim().is_empty())
                    .map(|v| Value::String(v.to_owned())),
                Kind::Number => Some(self.get(name).trim())
                    .filter(|v| !v.is_empty())
                    .map(|v| {
                        v.parse::<i64>()
                            .map(Value::from)
                            // Not a number: sent as text, refused by the type check.
                            .unwrap_or_else(|_| Value::String(v.to_owned()))
                    }),
            };
            if let Some(value) = value {
                put(&mut root, name, value);
            }
        }
        root
    }

    /// The request these fields make, or the errors naming each field.
    pub fn parse<T: DeserializeOwned>(&self, fields: &[(&str, Kind)]) -> Result<T, Errors> {
        let json = self.to_json(fields);
        let mut errors = Errors::default();
        // Every missing field at once (serde stops at the first).
        for (name, kind) in fields {
            if *kind == Kind::Required && self.get(name).trim().is_empty() {
                errors.insert(name, "is required");
            }
        }
        // One pass per wrong field: a type error stops serde at the first.
        let mut value = json;
        for _ in 0..32 {
            match serde_path_to_error::deserialize::<_, T>(&value) {
                Ok(parsed) if errors.is_empty() => return Ok(parsed),
                Ok(_) => return Err(errors),
                Err(err) => {
                    let path = err.path().to_string();
                    let (field, message) =
                        avip_app::domain::input::describe(&path, &err.into_inner().to_string());
                    errors.insert(&field, &message);
                    // Remove the wrong value and look further (a missing
                    // required field ends the search).
                    if !remove(&mut value, &field) {
                        return Err(errors);
                    }
                }
            }
        }
        Err(errors)
    }
}

/// The id of a field's input: `parent.phone` → `parent-phone`,
/// `children[0].birth_date` → `children-0-birth_date`.
pub fn input_id(field: &str) -> String {
    field
        .replace(['.', '[', ']'], "-")
        .replace("--", "-")
        .trim_end_matches('-')
        .to_owned()
}

/// Puts `value` at `path` (`a.b`, `a[0].b`) in `root`.
fn put(root: &mut Value, path: &str, value: Value) {
    let mut slot = root;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let (name, index) = match part.split_once('[') {
            Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (*part, None),
        };
        let Value::Object(map) = slot else { return };
        let entry = map.entry(name.to_owned()).or_insert_with(|| {
            if index.is_some() {
                Value::Array(Vec::new())
            } else if last {
                Value::Null
            } else {
                Value::Object(Map::new())
            }
        });
        slot = match index {
            Some(i) => {
                let Value::Array(items) = entry else { return };
                while items.len() <= i {
                    items.push(Value::Object(Map::new()));
                }
                &mut items[i]
            }
            None => entry,
        };
        if last {
            *slot = value;
            return;
        }
    }
}

/// Removes the value at `path`; `false` if there was none.
fn remove(root: &mut Value, path: &str) -> bool {
    let pointer = path
        .split('.')
        .flat_map(|part| part.split(['[', ']']).filter(|p| !p.is_empty()))
        .fold(String::new(), |acc, p| format!("{acc}/{p}"));
    let (parent, key) = match pointer.rsplit_once('/') {
        Some(split) => split,
        None => return false,
    };
    match root.pointer_mut(parent) {
        Some(Value::Object(map)) => map.remove(key).is_some(),
        Some(Value::Array(items)) => match key.parse::<usize>() {
            Ok(i) if i < items.len() => {
                items[i] = Value::Null;
                true
            }
            _ => false,
        },
        _ => false,
    }
}

/// What is wrong with a form, field by field, in French.
#[derive(Clone, Debug, Default)]
pub struct Errors {
    by_field: BTreeMap<String, String>,
    /// What concerns the whole form (a move someone made first…).
    pub general: Vec<String>,
}

impl Errors {
    pub fn insert(&mut self, field: &str, english: &str) {
        self.by_field
            .entry(field.to_owned())
            .or_insert_with(|| fr::message(english));
    }

    pub fn field(&mut self, field: &str, french: impl Into<String>) {
        self.by_field.insert(field.to_owned(), french.into());
    }

    pub fn is_empty(&self) -> bool {
        self.by_field.is_empty() && self.general.is_empty()
    }

    /// The message for `field`, if any.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.by_field.get(field).map(String::as_str)
    }

    /// Every message, for the summary at the top of the form.
    pub fn all(&self) -> Vec<(String, String)> {
        self.by_field
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The summary's lines in the form's order (`labels`: each field and
    /// its label as the form shows them, top to bottom), each naming its
    /// field: the id of the field's input (`id`) and "Label : message".
    /// A field the list does not know comes last, with its message alone.
    pub fn summary(
        &self,
        labels: &[(&str, &str)],
        id: impl Fn(&str) -> String,
    ) -> Vec<(String, String)> {
        let known = labels.iter().filter_map(|(field, label)| {
            self.get(field)
                .map(|message| (id(field), format!("{label} : {message}")))
        });
        let others = self
            .by_field
            .iter()
            .filter(|(field, _)| !labels.iter().any(|(f, _)| f == field))
            .map(|(field, message)| (id(field), message.clone()));
        known.chain(others).collect()
    }

    /// What a use case refused, if it is about the form (field errors, a
    /// move the lifecycle refuses, no free place…); other refusals are the
    /// page's.
    pub fn of(e: DomainError) -> Result<Errors, DomainError> {
        let mut errors = Errors::default();
        match e {
            DomainError::Invalid(list) => {
                for fe in list {
                    errors.insert(&fe.field, &fe.message);
                }
            }
            DomainError::InvalidParameter(fe) => errors.insert(&fe.field, &fe.message),
            DomainError::InvalidTransition { current, .. } => errors.general.push(format!(
                "Ce changement n’est plus possible : l’orientation est maintenant « {} ». \
                 Rechargez la page.",
                fr::status(current)
            )),
            DomainError::NoFreePlace {
                first_full_day,
                places,
            } => errors.field(
                "force",
                format!(
                    "Aucune place AVIP n’est libre le {} {} (il en faut {places}). Pour \
                     poursuivre malgré tout, cochez la case ci-dessous et donnez-en la raison.",
                    fr::weekday(avip_app::domain::Weekday::of(chrono::Datelike::weekday(
                        &first_full_day
                    ))),
                    fr::date(first_full_day)
                ),
            ),
            DomainError::DuplicateReferral { .. } => errors
                .general
                .push("Cet enfant a déjà une orientation en cours dans cette crèche.".to_owned()),
            DomainError::AlreadyAnonymised => errors
                .general
                .push("Les données de cette famille ont été effacées.".to_owned()),
            other => return Err(other),
        }
        Ok(errors)
    }
}

/// A period's `du` and `au` fields (`YYYY-MM-DD`), `default` where empty;
/// French errors on the fields when a date is not one, the end comes
/// before the start, or the period is over ten years.
pub fn period(
    (du, au): (Option<&str>, Option<&str>),
    default: (chrono::NaiveDate, chrono::NaiveDate),
    errors: &mut Errors,
) -> (chrono::NaiveDate, chrono::NaiveDate) {
    let read = |raw: Option<&str>, field: &str, default, errors: &mut Errors| match raw
        .filter(|r| !r.is_empty())
    {
        None => default,
        Some(r) => chrono::NaiveDate::parse_from_str(r, "%Y-%m-%d").unwrap_or_else(|_| {
            errors.field(field, "Date attendue (jj/mm/aaaa).");
            default
        }),
    };
    let from = read(du, "du", default.0, errors);
    let to = read(au, "au", default.1, errors);
    if to < from {
        errors.field("au", "La fin de la période doit suivre son début.");
    } else if (to - from).num_days() >= avip_app::workflow::exports::MAX_DAYS as i64 {
        errors.field("au", "Dix ans au plus.");
    }
    (from, to)
}
