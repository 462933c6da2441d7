//! Who may do what and who is who: the permission catalogue and roles, passwords, sessions,
//! API tokens, the login lockout, logging in, and the one access decision (`actor::check`).

pub mod actor;
pub mod api_tokens;
pub mod lockout;
pub mod login;
pub mod password;
pub mod sessions;
pub mod tokens;

pub use actor::{Access, Actor, AuthMethod};
pub use login::{AuthService, LoggedIn, Origin};
pub use model::auth::{parse_permission, parse_permissions, Permission, Role};
