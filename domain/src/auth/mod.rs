//! Who may do what: the permission catalogue, roles with their default permissions, and
//! password handling. Sessions, tokens and the login flow build on these (auth issue).

pub mod lockout;
pub mod login;
pub mod password;
pub mod permissions;
pub mod sessions;
pub mod tokens;

pub use permissions::{Permission, Role};
