//! Rebuilds this crate when a migration is added or changed: they are
//! embedded at compile time (`embed_migrations!`), which cargo does not
//! track on its own.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
