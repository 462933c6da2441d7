//! `/access/ticket`: the ticket login (used by the client itself).

use crate::params::{Method, Params, Request};

pub fn ticket(username: &str, password: &str) -> Request {
    Request::new(Method::Post, "/access/ticket", "/access/ticket".into())
        .with(Params::new().str("username", username).str("password", password))
}
