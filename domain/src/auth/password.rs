//! Passwords: the policy new passwords must meet, and argon2id hashing.
//!
//! Hashing is CPU-heavy by design (tens of milliseconds); async callers run it through
//! `tokio::task::spawn_blocking` (see `hash_blocking` / `verify_blocking`) so a burst of logins
//! cannot stall the request workers.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::{Error, Result};

pub const MIN_LENGTH: usize = 10;
pub const MAX_LENGTH: usize = 1024;

/// Passwords too common to allow whatever their length (lower-cased comparison).
const COMMON: &[&str] = &[
    "1234567890",
    "12345678910",
    "123456789a",
    "0123456789",
    "1q2w3e4r5t",
    "qwertyuiop",
    "1qaz2wsx3edc",
    "password123",
    "password1234",
    "passw0rd123",
    "administrator",
    "admin12345",
    "admin123456",
    "admin123!!",
    "letmein1234",
    "iloveyou123",
    "welcome123",
    "welcome1234",
    "changeme123",
    "qwerty12345",
    "abcdefghij",
    "abcd1234!@",
    "proxmox123",
    "proxfleet123",
    "p@ssw0rd123",
    "aaaaaaaaaa",
    "qwer1234!@#$",
    "asdfghjkl1",
];

/// Checks a new password against the policy; the error names the rule it breaks.
pub fn check_policy(username: &str, password: &str) -> Result<()> {
    let fail = |m: &str| Err(Error::validation("password", m));
    let chars = password.chars().count();
    if chars < MIN_LENGTH {
        return fail(&format!("a password needs at least {MIN_LENGTH} characters"));
    }
    if chars > MAX_LENGTH {
        return fail(&format!("a password may have at most {MAX_LENGTH} characters"));
    }
    let lower = password.to_lowercase();
    if !username.is_empty() && lower.contains(&username.to_lowercase()) {
        return fail("a password must not contain the username");
    }
    if COMMON.contains(&lower.as_str()) {
        return fail("this password is too common; choose another");
    }
    if password.chars().all(|c| c == password.chars().next().unwrap_or(' ')) {
        return fail("a password must not repeat one character");
    }
    Ok(())
}

/// The policy, reporting `field` as the field to fix (forms name it `new_password`).
pub fn check_policy_as(field: &str, username: &str, password: &str) -> Result<()> {
    check_policy(username, password).map_err(|e| match e {
        Error::Validation { message, details, .. } => Error::Validation { field: Some(field.into()), message, details },
        other => other,
    })
}

/// An argon2id PHC string (`$argon2id$v=19$…`) with a random salt.
pub fn hash(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("password hashing failed: {e}")))
}

/// True when `password` matches `phc`. A malformed stored hash never matches.
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

pub async fn hash_blocking(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || hash(&password))
        .await
        .map_err(|e| Error::Internal(format!("hashing task failed: {e}")))?
}

pub async fn verify_blocking(password: String, phc: String) -> bool {
    tokio::task::spawn_blocking(move || verify(&password, &phc)).await.unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_the_rule_broken() {
        let msg = |u: &str, p: &str| match check_policy(u, p) {
            Err(Error::Validation { message, field, .. }) => {
                assert_eq!(field.as_deref(), Some("password"));
                message
            }
            other => panic!("expected a validation error, got {other:?}"),
        };
        assert!(msg("kim", "short").contains("at least 10"));
        assert!(msg("operator1", "my-operator1-pass").contains("username"));
        assert!(msg("kim", "Password123").contains("too common"));
        assert!(msg("kim", "zzzzzzzzzzzz").contains("repeat"));
        assert!(msg("kim", &"x".repeat(2000)).contains("at most"));
        assert!(check_policy("kim", "correct horse battery").is_ok());
        // Length counts characters, not bytes: ten Hangul syllables are enough.
        assert!(check_policy("kim", "가나다라마바사아자차").is_ok());
    }

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let a = hash("correct horse battery").unwrap_or_default();
        let b = hash("correct horse battery").unwrap_or_default();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(verify("correct horse battery", &a));
        assert!(!verify("correct horse batterY", &a));
        assert!(!verify("anything", "not-a-hash"));
    }
}
