//! How a caller authenticates to the API: the client sends it, the simulator checks it.

#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: PVEAPIToken=USER@REALM!ID=SECRET`. Stateless; the recommended way.
    Token { user: String, token_id: String, secret: String },
    /// Username and password: a ticket from `/access/ticket`, shared by all calls and renewed.
    Password { username: String, password: String },
}

impl std::fmt::Debug for Auth {
    // Never print a secret, even in debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Token { user, token_id, .. } => write!(f, "Token({user}!{token_id})"),
            Auth::Password { username, .. } => write!(f, "Password({username})"),
        }
    }
}
