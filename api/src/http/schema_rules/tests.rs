use super::*;
use avip_app::domain;
use avip_app::domain::referral;

/// A regular expression as JSON Schema (ECMA-262) reads it, in Rust's
/// syntax: `\uXXXX` becomes `\x{XXXX}`.
fn regex(pattern: &str) -> regex::Regex {
    let mut rust = String::new();
    let mut rest = pattern;
    while let Some(i) = rest.find(r"\u") {
        rust.push_str(&rest[..i]);
        rust.push_str(&format!(r"\x{{{}}}", &rest[i + 2..i + 6]));
        rest = &rest[i + 6..];
    }
    rust.push_str(rest);
    regex::Regex::new(&rust).unwrap_or_else(|e| panic!("{pattern}: {e}"))
}

/// Random strings over `alphabet`, up to `max` characters, with a
/// fixed seed: the same cases every run.
fn cases(alphabet: &[char], max: usize, n: usize) -> Vec<String> {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    (0..n)
        .map(|_| {
            let len = (next() % (max as u64 + 1)) as usize;
            (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect()
        })
        .collect()
}

/// The pattern accepts exactly what the validator accepts, on the
/// given examples and on random strings over `alphabet`.
fn agree(
    pattern: &str,
    accepts: impl Fn(&str) -> bool,
    examples: &[&str],
    alphabet: &str,
    max: usize,
) {
    let re = regex(pattern);
    let alphabet: Vec<char> = alphabet.chars().collect();
    let mut accepted = 0;
    for case in examples
        .iter()
        .map(|s| (*s).to_owned())
        .chain(cases(&alphabet, max, 20_000))
    {
        // What the input rule refuses never reaches the validator.
        if domain::input::refused(&case) {
            assert!(!re.is_match(&case), "{pattern} admits {case:?}");
            continue;
        }
        let service = accepts(&case);
        accepted += usize::from(service);
        assert_eq!(re.is_match(&case), service, "{case:?} ({pattern})");
    }
    assert!(accepted > 0, "no accepted case for {pattern}");
}

#[test]
fn each_pattern_accepts_what_its_validator_accepts() {
    agree(
        &phone(),
        |s| referral::phone(s).is_ok(),
        &[
            "0612345678",
            "06 12 34 56 78",
            "+33 (0)6 12 34 56 78",
            "0033612345678",
            "+33612345678",
            "+330612345678",
            "+33012345678",
            "0033123456",
            "+262 692 12 34 56",
            "+1 212 555 0100",
            " 06.12.34.56.78\u{a0}",
            "0 0 3 3 1 2 3 4 5 6",
        ],
        "0123456789+ .()-3\u{a0}x",
        16,
    );
    agree(
        &departement(),
        |s| domain::departement(s).is_ok(),
        &[
            "83", "2A", "2b", "20", "974", "977", "+8", " 83", "00", "96",
        ],
        "0123456789ABab+ 7",
        3,
    );
    agree(
        &postal_code(),
        |s| domain::postal_code(s).is_ok(),
        &["83000", "00100", "01000", "8300 ", "+8300"],
        "0123456789 +",
        5,
    );
    agree(
        &clock_time(),
        |s| domain::clock_time(s).is_ok(),
        &["07:00", "24:00", "24:01", "23:59", "+1:00", "7:00"],
        "0123456789:+4",
        5,
    );
    agree(
        &france_travail_id(),
        |s| referral::france_travail_id(s).is_ok(),
        &["1234567A", " 1234567a ", "12345678", "123456A"],
        "0123456789Aa é",
        10,
    );
    agree(
        &text(),
        |s| domain::text(s, 200).is_ok(),
        &[
            "Les Petits Pas",
            "  x  ",
            "",
            "   ",
            "\n x \t",
            "a\nb",
            "\u{2003}",
        ],
        "ab \t\n\u{a0}\u{2003}\u{7}\u{85}é",
        8,
    );
}

#[test]
fn the_siret_and_optional_texts_are_read_as_the_service_reads_them() {
    let siret = regex(&siret());
    for ok in ["13000548100010", "130 005 481 00010", " 13000548100010 "] {
        assert!(siret.is_match(ok), "{ok}");
    }
    for bad in ["1300054810001", "13000548100010x", "1300-0548100010"] {
        assert!(!siret.is_match(bad), "{bad}");
    }
    let optional = regex(&optional_text());
    for ok in ["", "   ", "\n", "une note", " une note "] {
        assert!(optional.is_match(ok), "{ok:?}");
    }
    for bad in ["a\nb", "a\u{0}"] {
        assert!(!optional.is_match(bad), "{bad:?}");
    }
}

#[test]
fn every_rule_names_a_property_of_the_document() {
    // `write` asserts it; the document must build.
    let doc: Value = serde_json::from_str(&crate::http::openapi::document_json()).unwrap();
    let pattern = &doc["components"]["schemas"]["ParentIn"]["properties"]["phone"]["pattern"];
    assert_eq!(pattern, &json!(phone()));
    assert!(doc["components"]["schemas"]["TransitionRequest"]["allOf"].is_array());
}
