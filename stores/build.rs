//! The stores embed their migrations (`sqlx::migrate!`) at compile time: a migration added to
//! `migrations/` must rebuild the crate, which cargo does not know without this (as sqlx advises).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
