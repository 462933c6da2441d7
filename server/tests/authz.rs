//! The authorization matrix, generated from the route table: every declared endpoint is called
//! as anonymous, viewer, operator, developer, admin, an API token and a revoked token, and
//! must answer exactly what its declared access allows: 401 without valid credentials, 403
//! without the permission, and anything but 401/403/405/"no endpoint" when allowed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may fail loudly

mod common;

use common::{client, spawn, Login, TestServer};
use domain::auth::{Access, AuthMethod, Permission, Role};
use reqwest::{Method, StatusCode};
use server::api::routes::ROUTES;

#[derive(Debug, Clone)]
enum Who {
    Anonymous,
    Session(Role),
    /// An API token of an admin: it has every permission, but is not a browser session.
    Token(String),
    Revoked(String),
}

impl Who {
    fn label(&self) -> String {
        match self {
            Who::Anonymous => "anonymous".into(),
            Who::Session(r) => r.as_str().into(),
            Who::Token(_) => "api token (admin)".into(),
            Who::Revoked(_) => "revoked token".into(),
        }
    }

    /// What the declared access allows this caller: `Some(code)` for the exact refusal.
    fn expected_refusal(&self, access: Access) -> Option<StatusCode> {
        let (permissions, method) = match self {
            Who::Anonymous | Who::Revoked(_) => {
                return (access != Access::Public).then_some(StatusCode::UNAUTHORIZED);
            }
            Who::Session(role) => (role.default_permissions(), AuthMethod::Session),
            Who::Token(_) => (Role::Admin.default_permissions(), AuthMethod::Token),
        };
        match access {
            Access::Public | Access::SignedIn | Access::Authenticated => None,
            Access::BrowserSession => (method != AuthMethod::Session).then_some(StatusCode::FORBIDDEN),
            Access::Permission(p) => (!permissions.contains(&p)).then_some(StatusCode::FORBIDDEN),
        }
    }
}

async fn request(srv: &TestServer, who: &Who, method: &Method, path: &str) -> (StatusCode, String) {
    let url = srv.at(path);
    let builder = match who {
        Who::Anonymous => client().request(method.clone(), &url).header("origin", &srv.url),
        // A fresh session per call: `/logout` must not end the session other calls use.
        Who::Session(role) => {
            let login: Login = srv.session_for(&format!("{}1", role.as_str())).await;
            login.request(method.clone(), &url)
        }
        Who::Token(secret) | Who::Revoked(secret) => {
            client().request(method.clone(), &url).bearer_auth(secret).header("origin", &srv.url)
        }
    };
    let resp = builder.header("content-type", "application/json").body("{}").send().await.unwrap();
    let status = resp.status();
    // A live stream that was allowed never ends: its status is the answer.
    let is_stream =
        resp.headers().get("content-type").is_some_and(|v| v.to_str().unwrap_or("").starts_with("text/event-stream"));
    if is_stream {
        return (status, String::new());
    }
    (status, resp.text().await.unwrap())
}

#[tokio::test]
async fn every_endpoint_answers_each_kind_of_caller_exactly_as_declared() {
    let srv = spawn().await;
    for role in Role::ALL {
        srv.add_user(&format!("{}1", role.as_str()), role.as_str()).await;
    }
    let admin = srv.services.users.by_username("admin1").await.unwrap().unwrap();
    let admin_actor = domain::auth::Actor::from_user(&admin, AuthMethod::Session, None);
    let live = srv.services.auth.create_token(&admin_actor, "matrix", None).await.unwrap();
    let dead = srv.services.auth.create_token(&admin_actor, "revoked", None).await.unwrap();
    srv.services.auth.revoke_token(&admin_actor, dead.token.id).await.unwrap();

    let mut callers = vec![Who::Anonymous];
    callers.extend(Role::ALL.into_iter().map(Who::Session));
    callers.push(Who::Token(live.secret));
    callers.push(Who::Revoked(dead.secret));

    let mut failures = Vec::new();
    let mut checked = 0;
    for route in ROUTES {
        // Path parameters name things that do not exist: allowed calls answer 404/400 and
        // change nothing, so the matrix can run every write safely.
        let path = route
            .path
            .replace("{username}", "nobody-here")
            .replace("{id}", "999999")
            .replace("{*fn_name}", "system_info");
        for who in &callers {
            let (status, body) = request(&srv, who, &route.method, &path).await;
            checked += 1;
            let ok = match who.expected_refusal(route.access) {
                Some(want) => status == want,
                None => {
                    !matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::METHOD_NOT_ALLOWED)
                        && !body.contains("no API endpoint")
                }
            };
            if !ok {
                failures.push(format!(
                    "{} {} as {}: got {status}, expected {} — {}",
                    route.method,
                    route.path,
                    who.label(),
                    who.expected_refusal(route.access).map_or("allowed".into(), |s| s.to_string()),
                    body.chars().take(160).collect::<String>()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {checked} calls wrong:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(checked, ROUTES.len() * 7);
    // Nothing was created or deleted by the sweep.
    assert_eq!(srv.services.users.count().await.unwrap(), 4);
}

/// The generated permission table (the closing note points here): one line per route.
#[test]
fn print_the_permission_table() {
    let mut lines = Vec::new();
    for r in ROUTES {
        lines.push(format!("{:<7} {:<42} {}", r.method.as_str(), r.path, r.access.label()));
    }
    let table = lines.join("\n");
    println!("{table}");
    // Every route that changes users needs manage_users.
    for r in ROUTES.iter().filter(|r| r.path.starts_with("/api/users") || r.path.contains("/iam")) {
        assert_eq!(r.access, Access::Permission(Permission::ManageUsers), "{}", r.path);
    }
}
