//! The rules the service enforces on requests, written into the OpenAPI
//! document's schemas as JSON Schema, so that a client generated from the
//! document (and schemathesis) knows what will be accepted: non-blank
//! texts, département, postal, phone, SIRET and France Travail codes, times
//! of day, bounds, and the rules that span fields (`if`/`then`).
//!
//! Each pattern is built next to the rule it states and checked against
//! the validator itself in the tests below; what JSON Schema cannot state
//! (a date relative to today, a period's end before its start, a reference
//! to a stored record) stays in the service alone and is listed in
//! `tests/contract/schemathesis.toml`.

use serde_json::{Value, json};

use avip_db::model::{DeclineReason, WithdrawReason};

/// C0 and C1 control characters, as a character-class body.
const CONTROLS: &str = r"\u0000-\u001F\u007F-\u009F";
/// Unicode White_Space that is not a control character.
const SPACES: &str = r" \u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";

/// What the service trims around a value and the input rule lets through.
fn trimmed() -> String {
    format!(r"[\t\n\r{SPACES}]*")
}

/// A text of one line (`domain::text`): trimmed, not empty, no control
/// character.
pub fn text() -> String {
    let t = trimmed();
    format!(r"^{t}[^{CONTROLS}]*[^{CONTROLS}{SPACES}][^{CONTROLS}]*{t}$")
}

/// An optional text: blank means absent, otherwise as [`text`].
pub fn optional_text() -> String {
    let t = trimmed();
    format!(r"^{t}(?:[^{CONTROLS}]*[^{CONTROLS}{SPACES}][^{CONTROLS}]*{t})?$")
}

/// Any text without a control character but tab and line breaks (the rule
/// of every text received, `domain::input`).
pub fn free() -> String {
    r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$".to_owned()
}

/// `domain::departement`: `01`–`95` but `20`, `2A`, `2B`, `971`–`976`.
pub fn departement() -> String {
    let t = trimmed();
    format!(r"^{t}(?:0[1-9]|1[0-9]|2[1-9]|2[AaBb]|[3-8][0-9]|9[0-5]|97[1-6]){t}$")
}

/// `domain::postal_code`: five digits, not `00…`.
pub fn postal_code() -> String {
    let t = trimmed();
    format!(r"^{t}(?:0[1-9]|[1-9][0-9])[0-9]{{3}}{t}$")
}

/// `domain::clock_time`: `HH:MM`, `24:00` too.
pub fn clock_time() -> String {
    r"^(?:(?:[01][0-9]|2[0-3]):[0-5][0-9]|24:00)$".to_owned()
}

/// `referral::france_travail_id`: seven digits and a letter or digit.
pub fn france_travail_id() -> String {
    let t = trimmed();
    format!(r"^{t}[0-9]{{7}}[0-9A-Za-z]{t}$")
}

/// A SIRET: 14 digits, spaces anywhere.
pub fn siret() -> String {
    r"^ *(?:[0-9] *){14}$".to_owned()
}

/// `referral::phone`: a French number, national (`06 12 34 56 78`, not
/// `00…`),
/// international (`+33 6…`, `0033 6…`, `+33 (0)6…`) or overseas (`+262…`),
/// with spaces, dots, dashes and brackets anywhere.
pub fn phone() -> String {
    const SEP: &str = r"[ .()\-]*";
    let spaced = |literal: &str| {
        literal
            .chars()
            .map(|c| {
                if c == '+' {
                    r"\+".to_owned()
                } else {
                    c.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(SEP)
    };
    let digits = |n: usize, first: &str| format!("{first}(?:{SEP}[0-9]){{{n}}}");
    // After +33 or 0033: nine digits not led by 0, perhaps after a 0.
    let after_33 = format!("(?:{SEP}0)?{SEP}{}", digits(8, "[1-9]"));
    let international = format!("(?:{}|{}){after_33}", spaced("+33"), spaced("0033"));
    let overseas = format!(
        r"\+{SEP}(?:{}){SEP}{}",
        ["262", "590", "594", "596", "269"].map(spaced).join("|"),
        digits(8, "[0-9]")
    );
    // Ten digits led by 0 and not by 00.
    let national = format!("0{SEP}{}", digits(8, "[1-9]"));
    let t = trimmed();
    format!("^{t}{SEP}(?:{international}|{overseas}|{national}){SEP}{t}$")
}

/// A webhook target: an absolute http(s) URL (production wants https and
/// a public address, which the document cannot know).
pub fn url() -> String {
    format!(r"^[Hh][Tt][Tt][Pp][Ss]?://[^{CONTROLS} ]+$")
}

/// What to set on one property of a component schema.
enum Rule {
    Pattern(String),
    /// A pattern and a least length.
    PatternMin(String, u64),
    Format(&'static str),
    Range(i64, i64),
    /// An array of at least one item, each at most once when `unique`.
    NonEmpty {
        unique: bool,
    },
    Const(Value),
    /// Each item at most once.
    Unique,
}

fn rules() -> Vec<(&'static str, &'static str, Rule)> {
    use Rule::*;
    let text = || Pattern(text());
    let places = || Range(0, 500);
    let mut rules = vec![
        ("CreateOrganization", "name", text()),
        ("CreateOrganization", "departement", Pattern(departement())),
        ("CreateOrganization", "siret", Pattern(siret())),
        ("UpdateOrganization", "name", text()),
        ("UpdateOrganization", "departement", Pattern(departement())),
        ("UpdateOrganization", "siret", Pattern(siret())),
        ("CreateCreche", "name", text()),
        ("CreateCreche", "address", text()),
        ("CreateCreche", "commune", text()),
        ("CreateCreche", "postal_code", Pattern(postal_code())),
        ("CreateCreche", "escalation_email", Format("email")),
        ("CreateCreche", "avip_places", places()),
        ("CreateCreche", "coordinator_ids", Unique),
        ("UpdateCreche", "name", text()),
        ("UpdateCreche", "address", text()),
        ("UpdateCreche", "commune", text()),
        ("UpdateCreche", "postal_code", Pattern(postal_code())),
        ("UpdateCreche", "escalation_email", Format("email")),
        ("UpdateCreche", "avip_places", places()),
        ("UpdateCreche", "coordinator_ids", Unique),
        ("OpeningHours", "opens", Pattern(clock_time())),
        ("OpeningHours", "closes", Pattern(clock_time())),
        ("OpeningHours", "days", NonEmpty { unique: false }),
        ("CapacityRequest", "avip_places", places()),
        // `domain::within_years`: 2000 to 2100.
        (
            "CapacityRequest",
            "from",
            Pattern(r"^(?:20[0-9]{2}|2100)-".to_owned()),
        ),
        ("ClosureRequest", "label", text()),
        (
            "ClosureRequest",
            "from",
            Pattern(r"^(?:20[0-9]{2}|2100)-".to_owned()),
        ),
        (
            "ClosureRequest",
            "to",
            Pattern(r"^(?:20[0-9]{2}|2100)-".to_owned()),
        ),
        ("CreateUser", "name", text()),
        ("CreateUser", "email", Format("email")),
        ("CreateUser", "password", PatternMin(free(), 12)),
        ("CreateUser", "creche_ids", Unique),
        ("UpdateUser", "name", text()),
        ("UpdateUser", "email", Format("email")),
        ("UpdateUser", "password", PatternMin(free(), 12)),
        ("UpdateUser", "creche_ids", Unique),
        ("CreateApiClient", "label", text()),
        ("CreateWebhook", "url", Pattern(url())),
        ("UpdateWebhook", "url", Pattern(url())),
    ];
    rules.extend(referral_rules());
    rules
}

/// The rules of a referral's request and of the moves on it.
fn referral_rules() -> Vec<(&'static str, &'static str, Rule)> {
    use Rule::*;
    let text = || Pattern(text());
    let optional = || Pattern(optional_text());
    vec![
        ("ReferentIn", "name", text()),
        ("ReferentIn", "email", Format("email")),
        ("ReferentIn", "phone", Pattern(phone())),
        ("ParentIn", "first_name", text()),
        ("ParentIn", "last_name", text()),
        ("ParentIn", "phone", Pattern(phone())),
        ("ParentIn", "email", Format("email")),
        ("ParentIn", "postal_code", Pattern(postal_code())),
        ("ParentIn", "commune", text()),
        (
            "ParentIn",
            "france_travail_id",
            Pattern(france_travail_id()),
        ),
        ("ChildIn", "first_name", text()),
        ("NeedsIn", "days_per_week", Range(1, 6)),
        ("NeedsIn", "notes", optional()),
        ("NeedsIn", "days", NonEmpty { unique: true }),
        ("ProjectIn", "description", optional()),
        ("ConsentIn", "given", Const(json!(true))),
        ("NoteRequest", "note", text()),
        ("ErasureRequest", "reason", text()),
        ("TransitionRequest", "note", optional()),
        ("TransitionRequest", "force_reason", optional()),
        ("TransferRequest", "note", optional()),
        ("EnrollmentRequest", "note", optional()),
        ("EnrollmentRequest", "force_reason", optional()),
        ("EnrollmentRequest", "days", NonEmpty { unique: true }),
        ("EnrollmentChange", "note", optional()),
        ("EnrollmentChange", "force_reason", optional()),
        ("EnrollmentChange", "days", NonEmpty { unique: true }),
        ("HoursIn", "from", Pattern(clock_time())),
        ("HoursIn", "to", Pattern(clock_time())),
        ("ExitRequest", "note", optional()),
        ("ExitCorrection", "correction_reason", text()),
        ("FollowUpRequest", "next_steps", optional()),
        (
            "FollowUpRequest",
            "participants",
            NonEmpty { unique: false },
        ),
    ]
}

/// The rules that span fields, as `allOf` members of a schema.
fn cross_field_rules() -> Vec<(&'static str, Value)> {
    let decline: Vec<&str> = DeclineReason::ALL.iter().map(|r| r.as_str()).collect();
    let withdraw: Vec<&str> = WithdrawReason::ALL.iter().map(|r| r.as_str()).collect();
    let to_is = |status: &str| json!({"properties": {"to": {"const": status}}, "required": ["to"]});
    let given = |field: &str| json!({"properties": {field: {"type": "string", "pattern": text()}}, "required": [field]});
    let force_needs_a_reason = json!([
        {"if": {"properties": {"force": {"const": true}}, "required": ["force"]},
         "then": given("force_reason")},
        {"if": given("force_reason"),
         "then": {"properties": {"force": {"const": true}}, "required": ["force"]}},
    ]);
    vec![
        (
            "TransferRequest",
            json!([{"if": {"properties": {"reason": {"const": "other"}}, "required": ["reason"]},
                    "then": given("note")}]),
        ),
        (
            "TransitionRequest",
            json!([
                {"if": to_is("declined"),
                 "then": {"properties": {"reason": {"enum": decline}}, "required": ["reason"]}},
                {"if": to_is("withdrawn"),
                 "then": {"properties": {"reason": {"enum": withdraw}}, "required": ["reason"]}},
                {"if": {"properties": {"to": {"not": {"enum": ["declined", "withdrawn"]}}}},
                 "then": {"properties": {"reason": {"type": "null"}}}},
                {"if": {"properties": {"reason": {"const": "other"}}, "required": ["reason"]},
                 "then": given("note")},
                // Only an offer may go over the free places, with a reason.
                {"if": {"properties": {"force": {"const": true}}, "required": ["force"]},
                 "then": {"allOf": [to_is("offered"), given("force_reason")]}},
                {"if": given("force_reason"),
                 "then": {"properties": {"force": {"const": true}}, "required": ["force"]}},
            ]),
        ),
        (
            "ExitRequest",
            // The reason goes with the situation; `positive` follows it.
            json!([
                {"if": {"properties": {"reason": {"const": "employment"}}, "required": ["reason"]},
                 "then": {"properties": {"employment_status": {"enum":
                    ["employed_fixed_term", "employed_permanent", "temp_work", "business_creation"]}}}},
                {"if": {"properties": {"reason": {"const": "training"}}, "required": ["reason"]},
                 "then": {"properties": {"employment_status": {"const": "training"}}}},
                {"if": {"properties": {"employment_status": {"enum": ["job_search", "other"]}},
                        "required": ["employment_status"]},
                 "then": {"properties": {"positive": {"enum": [false, null]}}},
                 "else": {"properties": {"positive": {"enum": [true, null]}}}},
            ]),
        ),
        ("ExitCorrection", exit_correction_rules()),
        ("EnrollmentRequest", force_needs_a_reason.clone()),
        ("EnrollmentChange", {
            let mut rules = force_needs_a_reason;
            // The first day of new days, with new days only.
            rules.as_array_mut().unwrap().push(json!(
                {"if": {"properties": {"days_from": {"not": {"type": "null"}}}, "required": ["days_from"]},
                 "then": {"properties": {"days": {"not": {"type": "null"}}}, "required": ["days"]}}));
            // Something to change (what equals the stored contract is
            // the service's to tell).
            rules.as_array_mut().unwrap().push(json!({"anyOf": [
                    {"properties": {"renew": {"const": true}}, "required": ["renew"]},
                    {"properties": {"contract_end_date": {"not": {"type": "null"}}}, "required": ["contract_end_date"]},
                    {"properties": {"days": {"not": {"type": "null"}}}, "required": ["days"]},
                    // `"hours": null` clears the hours: a change too.
                    {"required": ["hours"]},
                    given("note"),
                ]}));
            rules
        }),
    ]
}

/// A correction changes something (what equals the recorded exit is the
/// service's to tell); the exit's rules hold on what is given (the other
/// fields are the recorded exit's, the service's to check).
fn exit_correction_rules() -> Value {
    json!([
                {"anyOf": [
                    {"properties": {"date": {"not": {"type": "null"}}}, "required": ["date"]},
                    {"properties": {"reason": {"not": {"type": "null"}}}, "required": ["reason"]},
                    {"properties": {"employment_status": {"not": {"type": "null"}}}, "required": ["employment_status"]},
                    {"properties": {"childcare_solution": {"not": {"type": "null"}}}, "required": ["childcare_solution"]},
                ]},
                {"if": {"properties": {"reason": {"const": "employment"}}, "required": ["reason"]},
                 "then": {"properties": {"employment_status": {"enum":
                    ["employed_fixed_term", "employed_permanent", "temp_work", "business_creation", null]}}}},
                {"if": {"properties": {"reason": {"const": "training"}}, "required": ["reason"]},
                 "then": {"properties": {"employment_status": {"enum": ["training", null]}}}},
    ])
}

/// The schemas requests are read with: every string of theirs without a
/// stricter rule gets the input rule ([`free`]).
fn request_schemas(doc: &Value) -> Vec<String> {
    fn refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref")
                    && let Some(name) = r.strip_prefix("#/components/schemas/")
                {
                    out.push(name.to_owned());
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut todo = Vec::new();
    for item in doc["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(_, i)| i)
    {
        for operation in item.as_object().into_iter().flatten().map(|(_, o)| o) {
            refs(&operation["requestBody"], &mut todo);
        }
    }
    let mut seen: Vec<String> = Vec::new();
    while let Some(name) = todo.pop() {
        if seen.contains(&name) {
            continue;
        }
        refs(&doc["components"]["schemas"][&name], &mut todo);
        seen.push(name);
    }
    seen.sort();
    seen
}

fn is_string(schema: &Value) -> bool {
    match &schema["type"] {
        Value::String(t) => t == "string",
        Value::Array(ts) => ts.iter().any(|t| t == "string"),
        _ => false,
    }
}

fn apply(property: &mut Value, rule: &Rule) {
    match rule {
        Rule::Pattern(p) => property["pattern"] = json!(p),
        Rule::PatternMin(p, min) => {
            property["pattern"] = json!(p);
            property["minLength"] = json!(min);
        }
        Rule::Format(f) => property["format"] = json!(f),
        Rule::Range(min, max) => {
            property["minimum"] = json!(min);
            property["maximum"] = json!(max);
        }
        Rule::NonEmpty { unique } => {
            property["minItems"] = json!(1);
            if *unique {
                property["uniqueItems"] = json!(true);
            }
        }
        Rule::Const(v) => property["const"] = v.clone(),
        Rule::Unique => property["uniqueItems"] = json!(true),
    }
}

/// The schemas both requests and answers use, each with the name of the
/// copy answers refer to instead: an answer shows what is stored, which
/// the rules of a request do not bind (an anonymised family's texts are
/// empty, for one).
const STORED: &[(&str, &str)] = &[
    ("ReferentIn", "ReferentStored"),
    ("ParentIn", "ParentStored"),
    ("ChildIn", "ChildStored"),
    ("NeedsIn", "NeedsStored"),
    ("ProjectIn", "ProjectStored"),
    ("ConsentIn", "ConsentStored"),
    ("HoursIn", "HoursStored"),
    ("OpeningHours", "OpeningHoursStored"),
];

fn refer_to_stored(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get_mut("$ref")
                && let Some((_, stored)) = STORED
                    .iter()
                    .find(|(name, _)| r.as_str() == format!("#/components/schemas/{name}"))
            {
                *r = format!("#/components/schemas/{stored}");
            }
            map.values_mut().for_each(refer_to_stored);
        }
        Value::Array(items) => items.iter_mut().for_each(refer_to_stored),
        _ => {}
    }
}

/// Answers refer to copies of the shared schemas, made before the rules.
fn split_stored(doc: &mut Value, requests: &[String]) {
    for item in doc["paths"]
        .as_object_mut()
        .into_iter()
        .flatten()
        .map(|(_, i)| i)
    {
        for operation in item.as_object_mut().into_iter().flatten().map(|(_, o)| o) {
            if let Some(responses) = operation.get_mut("responses") {
                refer_to_stored(responses);
            }
        }
    }
    let Some(schemas) = doc["components"]["schemas"].as_object_mut() else {
        return;
    };
    for (name, schema) in schemas.iter_mut() {
        if !requests.contains(name) {
            refer_to_stored(schema);
        }
    }
    for (shared, stored) in STORED {
        let mut copy = schemas
            .get(*shared)
            .cloned()
            .unwrap_or_else(|| panic!("{shared} is not in the document"));
        refer_to_stored(&mut copy);
        copy.as_object_mut().map(|c| c.remove("example"));
        copy["description"] = json!(format!(
            "`{shared}` as stored and answered: the same fields, without the rules \
             a request must follow (an anonymised family's texts are empty)."
        ));
        schemas.insert((*stored).to_owned(), copy);
    }
}

/// Writes the rules into `doc` (the document as JSON).
pub fn write(doc: &mut Value) {
    let requests = request_schemas(doc);
    split_stored(doc, &requests);
    let schemas = &mut doc["components"]["schemas"];
    for (schema, field, rule) in rules() {
        let property = schemas
            .get_mut(schema)
            .and_then(|s| s.get_mut("properties"))
            .and_then(|p| p.get_mut(field))
            .unwrap_or_else(|| panic!("{schema}.{field} is not in the document"));
        apply(property, &rule);
    }
    for (schema, all_of) in cross_field_rules() {
        let schema = schemas
            .get_mut(schema)
            .unwrap_or_else(|| panic!("{schema} is not in the document"));
        schema["allOf"] = all_of;
    }
    for name in &requests {
        let Some(properties) = schemas
            .get_mut(name)
            .and_then(|s| s.get_mut("properties"))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        for property in properties.values_mut() {
            if is_string(property)
                && property.get("pattern").is_none()
                && property.get("format").is_none()
                && property.get("enum").is_none()
            {
                property["pattern"] = json!(free());
            }
        }
    }
    // Query parameters: text without control characters too.
    let free = free();
    for item in doc["paths"]
        .as_object_mut()
        .into_iter()
        .flatten()
        .map(|(_, i)| i)
    {
        for operation in item.as_object_mut().into_iter().flatten().map(|(_, o)| o) {
            let parameters = operation
                .get_mut("parameters")
                .and_then(Value::as_array_mut);
            for parameter in parameters.into_iter().flatten() {
                // `referral::idempotency_key`: 1 to 255 visible ASCII characters.
                if parameter["name"] == "Idempotency-Key" {
                    parameter["schema"]["pattern"] = json!(r"^[\u0021-\u007E]+$");
                    parameter["schema"]["minLength"] = json!(1);
                    continue;
                }
                if let Some(schema) = parameter.get_mut("schema")
                    && parameter_is_free_text(schema)
                {
                    schema["pattern"] = json!(free);
                }
            }
        }
    }
}

fn parameter_is_free_text(schema: &Value) -> bool {
    is_string(schema)
        && schema.get("pattern").is_none()
        && schema.get("format").is_none()
        && schema.get("enum").is_none()
        && schema.get("$ref").is_none()
}

#[cfg(test)]
mod tests;
