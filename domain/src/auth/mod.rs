//! Who may do what and who is who: the permission catalogue and roles, passwords, sessions,
//! the login lockout and the login itself. The HTTP doors for these come with the auth issue.

pub mod lockout;
pub mod login;
pub mod password;
pub mod permissions;
pub mod sessions;
pub mod tokens;

pub use permissions::{Permission, Role};
