//! Login, sessions, CSRF, tokens, users and audit through the REST doors, on SQLite and
//! PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may fail loudly

mod common;

use std::time::{Duration, Instant};

use common::{client, spawn_behind_proxy, spawn_each_backend, spawn_with_services, TestServer, PASSWORD};
use domain::auth::lockout::LockoutPolicy;
use domain::auth::sessions::SessionPolicy;
use domain::{Backend, Database, Services};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn json_login(srv: &TestServer, username: &str, password: &str) -> reqwest::Response {
    client()
        .post(srv.at("/login"))
        .header("origin", &srv.url)
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap()
}

fn session_cookie(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("pf_session=") && !c.contains("Max-Age=0"))
        .map(|c| c.split(';').next().unwrap_or_default().to_owned())
}

async fn body(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn every_login_failure_gets_the_same_answer_and_success_sets_a_hardened_cookie() {
    for srv in spawn_each_backend().await {
        srv.add_user("kim", "viewer").await;
        srv.add_user("gone", "viewer").await;
        let admin = srv.login_as("admin").await;
        admin.post(&srv.at("/api/users/gone/deactivate")).send().await.unwrap();

        let mut answers = Vec::new();
        for (user, pw) in [("kim", "wrong password!"), ("nobody", PASSWORD), ("gone", PASSWORD)] {
            let resp = json_login(&srv, user, pw).await;
            assert!(session_cookie(&resp).is_none());
            answers.push(body(resp).await);
        }
        assert_eq!(answers[0].0, StatusCode::UNAUTHORIZED, "{}", srv.backend());
        assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
        assert_eq!(answers[0].1["error"], "invalid username or password");

        let resp = json_login(&srv, "kim", PASSWORD).await;
        let set_cookie = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"), "{set_cookie}");
        assert!(!set_cookie.contains("Secure"), "plain HTTP here");
        let (status, b) = body(resp).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(b["data"]["user"]["username"], "kim");
        assert_eq!(b["data"]["user"]["permissions"], json!(["view_all"]));
        assert!(b.to_string().find("argon2").is_none() && !b.to_string().contains(PASSWORD));

        // Behind a TLS-terminating proxy the cookie is Secure.
        let resp = client()
            .post(srv.at("/login"))
            .header("x-forwarded-proto", "https")
            .json(&json!({ "username": "kim", "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert!(resp.headers()["set-cookie"].to_str().unwrap().contains("; Secure"));
    }
}

#[tokio::test]
async fn the_session_id_changes_at_login_and_logout_ends_it() {
    for srv in spawn_each_backend().await {
        srv.add_user("kim", "viewer").await;
        let first = session_cookie(&json_login(&srv, "kim", PASSWORD).await).unwrap();
        let second_resp = client()
            .post(srv.at("/login"))
            .header("cookie", &first)
            .header("origin", &srv.url)
            .json(&json!({ "username": "kim", "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        let second = session_cookie(&second_resp).unwrap();
        assert_ne!(first, second);
        let check = |cookie: String| {
            let url = srv.at("/api/session/check");
            async move { client().get(url).header("cookie", cookie).send().await.unwrap().status() }
        };
        assert_eq!(check(first).await, StatusCode::UNAUTHORIZED, "the old session ended at the new login");
        assert_eq!(check(second.clone()).await, StatusCode::OK);
        let (status, b) =
            body(client().get(srv.at("/session/check")).header("cookie", &second).send().await.unwrap()).await;
        assert_eq!((status, &b["data"]["authenticated"]), (StatusCode::OK, &json!(true)), "the old tool's path");

        // Another site's link or image does not log anyone out.
        let forged = client()
            .get(srv.at("/logout"))
            .header("cookie", &second)
            .header("sec-fetch-site", "cross-site")
            .send()
            .await
            .unwrap();
        assert_eq!(forged.headers()["location"], "/");
        assert_eq!(check(second.clone()).await, StatusCode::OK);
        // A method the route table does not declare is refused, not passed on.
        let undeclared = client().put(srv.at("/api/session/check")).header("cookie", &second).send().await.unwrap();
        assert_eq!(undeclared.status(), StatusCode::METHOD_NOT_ALLOWED);

        let out =
            client().post(srv.at("/logout")).header("cookie", &second).header("origin", &srv.url).send().await.unwrap();
        assert_eq!(out.status(), StatusCode::SEE_OTHER);
        assert_eq!(out.headers()["location"], "/login");
        assert!(out.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
        let (status, b) =
            body(client().get(srv.at("/api/session/check")).header("cookie", &second).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(b["details"]["authenticated"], false);
    }
}

fn short_lockout(db: Database, simulated: bool) -> Services {
    Services::with_policies(
        db,
        simulated,
        SessionPolicy::default(),
        LockoutPolicy {
            max_failures_per_pair: 3,
            max_failures_per_ip: 1000,
            free_failures_per_user: 3,
            first_delay_ms: 10,
            max_delay_ms: 20,
            window_ms: 1500,
        },
    )
}

#[tokio::test]
async fn repeated_failures_lock_the_address_out_of_the_account_until_the_window_passes() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(srv) = spawn_with_services(backend, short_lockout).await else { continue };
        srv.add_user("kim", "viewer").await;
        let started = Instant::now();
        for _ in 0..3 {
            assert_eq!(json_login(&srv, "kim", "guessing-wrong").await.status(), StatusCode::UNAUTHORIZED);
        }
        let locked = body(json_login(&srv, "kim", PASSWORD).await).await;
        assert_eq!(locked.0, StatusCode::UNAUTHORIZED, "the right password is refused while locked");
        assert_eq!(locked.1["error"], "invalid username or password", "and the answer says nothing more");
        // Released once the window has passed (and not before): poll until the login works.
        loop {
            let resp = json_login(&srv, "kim", PASSWORD).await;
            if resp.status() == StatusCode::OK {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "never released");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(started.elapsed() >= Duration::from_millis(1500), "released before the window ended");
    }
}

/// Anyone may try the admin's password; nobody may lock the admin out with it. Failures from one
/// address lock that address out of the account; failures from many only slow the account.
#[tokio::test]
async fn wrong_passwords_from_strangers_cannot_lock_the_admin_out() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(srv) = spawn_behind_proxy(backend, short_lockout).await else { continue };
        srv.add_user("root", "admin").await;
        let login_from = |address: &'static str, password: &'static str| {
            client()
                .post(srv.at("/login"))
                .header("x-forwarded-for", address)
                .json(&json!({ "username": "root", "password": password }))
                .send()
        };
        for _ in 0..3 {
            assert_eq!(login_from("198.51.100.1", "guessing-wrong").await.unwrap().status(), StatusCode::UNAUTHORIZED);
        }
        assert_eq!(
            login_from("198.51.100.1", PASSWORD).await.unwrap().status(),
            StatusCode::UNAUTHORIZED,
            "that address is locked out"
        );
        for stranger in ["198.51.100.2", "198.51.100.3", "198.51.100.4"] {
            assert_eq!(login_from(stranger, "guessing-wrong").await.unwrap().status(), StatusCode::UNAUTHORIZED);
        }
        let admin = login_from("192.0.2.50", PASSWORD).await.unwrap();
        assert_eq!(admin.status(), StatusCode::OK, "the real admin gets in from their own address ({})", srv.backend());
        let auditor = srv.login_as("admin").await;
        let (_, log) = body(auditor.get(&srv.at("/api/audit?action=login&per_page=100")).send().await.unwrap()).await;
        // Newest first; only root's attempts.
        let mut details: Vec<String> = log["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["target"] == "root")
            .map(|e| e["detail"].as_str().unwrap_or_default().to_owned())
            .collect();
        details.reverse();
        assert!(details[3].starts_with("locked out"), "{details:?}");
        assert!(details.iter().filter(|d| d.contains("slowed by")).count() >= 3, "the delays are audited: {details:?}");
    }
}

#[tokio::test]
async fn cookie_writes_need_a_same_site_origin_or_the_csrf_token() {
    for srv in spawn_each_backend().await {
        let admin = srv.login_as("admin").await;
        let new_user = |name: &str| json!({ "username": name, "password": PASSWORD, "role": "viewer" });
        let cross = client()
            .post(srv.at("/api/users"))
            .header("cookie", &admin.cookie)
            .header("origin", "https://evil.example")
            .json(&new_user("evil1"))
            .send()
            .await
            .unwrap();
        assert_eq!(cross.status(), StatusCode::FORBIDDEN);
        let no_proof = client()
            .post(srv.at("/api/users"))
            .header("cookie", &admin.cookie)
            .json(&new_user("evil2"))
            .send()
            .await
            .unwrap();
        assert_eq!(no_proof.status(), StatusCode::FORBIDDEN);
        assert!(srv.services.users.by_username("evil1").await.unwrap().is_none());
        assert!(srv.services.users.by_username("evil2").await.unwrap().is_none());
        // A script with the cookie proves itself with the session's CSRF token.
        let with_token = client()
            .post(srv.at("/api/users"))
            .header("cookie", &admin.cookie)
            .header("x-csrf-token", &admin.csrf)
            .json(&new_user("scripted"))
            .send()
            .await
            .unwrap();
        assert_eq!(with_token.status(), StatusCode::CREATED);
        // And the browser's same-site Origin is enough.
        let (status, b) =
            body(admin.post(&srv.at("/api/users")).json(&new_user("browser")).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::CREATED, "{b}");
        // A cross-site login form (login CSRF) is refused too.
        let forged = client()
            .post(srv.at("/login"))
            .header("origin", "https://evil.example")
            .form(&[("username", "browser"), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn tokens_act_as_their_user_until_revoked_or_the_user_is_deactivated() {
    for srv in spawn_each_backend().await {
        let admin = srv.login_as("admin").await;
        let dev = srv.login_as("developer").await;
        let (status, created) = body(
            dev.post(&srv.at("/api/tokens"))
                .json(&json!({ "name": "ci", "expires_in_days": 30 }))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let secret = created["data"]["secret"].as_str().unwrap().to_owned();
        let id = created["data"]["token"]["id"].as_i64().unwrap();
        assert!(secret.starts_with("pft_"));
        let as_token = |path: &str| client().get(srv.at(path)).bearer_auth(&secret).send();

        let (status, me) = body(as_token("/api/current-user").await.unwrap()).await;
        assert_eq!((status, me["data"]["username"].as_str()), (StatusCode::OK, Some("developer1")));
        assert_eq!(
            as_token("/api/users").await.unwrap().status(),
            StatusCode::FORBIDDEN,
            "the user's permissions, no more"
        );
        assert_eq!(
            as_token("/api/tokens").await.unwrap().status(),
            StatusCode::FORBIDDEN,
            "tokens cannot manage tokens"
        );

        // The list never shows the secret.
        let (_, list) = body(dev.get(&srv.at("/api/tokens")).send().await.unwrap()).await;
        assert_eq!(list["data"][0]["name"], "ci");
        assert!(
            !list.to_string().contains(&secret)
                && list["data"][0]["prefix"].as_str().is_some_and(|p| secret.starts_with(p))
        );

        // Deactivation stops it; activation brings it back.
        admin.post(&srv.at("/api/users/developer1/deactivate")).send().await.unwrap();
        assert_eq!(as_token("/api/current-user").await.unwrap().status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            dev.get(&srv.at("/api/current-user")).send().await.unwrap().status(),
            StatusCode::UNAUTHORIZED,
            "sessions ended"
        );
        admin.post(&srv.at("/api/users/developer1/activate")).send().await.unwrap();
        assert_eq!(as_token("/api/current-user").await.unwrap().status(), StatusCode::OK);

        // Revocation is immediate.
        let dev = srv.session_for("developer1").await;
        let (status, _) =
            body(dev.request(reqwest::Method::DELETE, &srv.at(&format!("/api/tokens/{id}"))).send().await.unwrap())
                .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(as_token("/api/current-user").await.unwrap().status(), StatusCode::UNAUTHORIZED);
        // A garbage bearer never falls back to a cookie.
        let mixed = client()
            .get(srv.at("/api/current-user"))
            .bearer_auth("pft_nope")
            .header("cookie", &dev.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(mixed.status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn the_first_admin_must_change_the_one_time_password_before_anything_else() {
    for srv in spawn_each_backend().await {
        let otp = srv.services.auth.ensure_first_admin(None).await.unwrap().unwrap();
        // A form login (no JavaScript) goes to the password change.
        let resp = client()
            .post(srv.at("/login"))
            .form(&[("username", "admin"), ("password", otp.as_str()), ("next", "/servers")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(resp.headers()["location"], "/change-password");
        let cookie = session_cookie(&resp).unwrap();
        let req = |m: reqwest::Method, p: &str| {
            client().request(m, srv.at(p)).header("cookie", &cookie).header("origin", &srv.url)
        };
        let (status, b) = body(req(reqwest::Method::GET, "/api/users").send().await.unwrap()).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(b["error"].as_str().unwrap().contains("change your password"));
        assert_eq!(req(reqwest::Method::GET, "/api/current-user").send().await.unwrap().status(), StatusCode::OK);
        let page = req(reqwest::Method::GET, "/servers").send().await.unwrap();
        assert_eq!(page.headers()["location"], "/change-password", "pages too");

        let weak = req(reqwest::Method::POST, "/change-password")
            .form(&[("current_password", otp.as_str()), ("new_password", "short"), ("confirm_password", "short")])
            .send()
            .await
            .unwrap();
        assert!(weak.headers()["location"].to_str().unwrap().starts_with("/change-password?error="));
        let (status, b) = body(
            req(reqwest::Method::POST, "/change-password")
                .json(&json!({ "current_password": otp, "new_password": "admin", "confirm_password": "admin" }))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!((status, b["details"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("new_password")));

        let ok = req(reqwest::Method::POST, "/change-password")
            .form(&[
                ("current_password", otp.as_str()),
                ("new_password", "a much better secret"),
                ("confirm_password", "a much better secret"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(ok.headers()["location"], "/");
        let fresh = session_cookie(&ok).expect("a new session for this browser");
        assert_ne!(fresh, cookie);
        assert_eq!(
            req(reqwest::Method::GET, "/api/current-user").send().await.unwrap().status(),
            StatusCode::UNAUTHORIZED,
            "old session ended"
        );
        let users = client().get(srv.at("/api/users")).header("cookie", &fresh).send().await.unwrap();
        assert_eq!(users.status(), StatusCode::OK);
        assert_eq!(
            json_login(&srv, "admin", &otp).await.status(),
            StatusCode::UNAUTHORIZED,
            "the one-time password is gone"
        );
    }
}

#[tokio::test]
async fn admins_manage_users_roles_and_permissions_and_everything_is_audited() {
    for srv in spawn_each_backend().await {
        let admin = srv.login_as("admin").await;
        let post = |path: &str, body: Value| admin.post(&srv.at(path)).json(&body).send();

        let (status, b) = body(
            post("/api/users", json!({"username": "kim", "password": PASSWORD, "email": "kim@example.com"}))
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{b}");
        assert_eq!(b["data"]["role"], "developer");
        let (status, b) =
            body(post("/api/users", json!({"username": "kim", "password": PASSWORD})).await.unwrap()).await;
        assert_eq!(status, StatusCode::CONFLICT, "{b}");
        let (status, b) =
            body(post("/api/users", json!({"username": "lee", "password": "lee-password-1"})).await.unwrap()).await;
        assert_eq!((status, b["details"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("password")), "{b}");

        let (_, b) = body(post("/api/iam/kim/role", json!({"role": "viewer"})).await.unwrap()).await;
        assert_eq!(b["data"]["permissions"], json!(["view_all"]));
        let (_, b) = body(
            post("/api/admin/iam/kim/permissions", json!({"permissions": ["view_all", "manage_backups"]}))
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(b["data"]["permissions"], json!(["view_all", "backup_management"]));
        let (status, _) =
            body(post("/api/iam/kim/permissions", json!({"permissions": ["make_me_admin"]})).await.unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);

        let (status, b) =
            body(post("/api/users/kim/password", json!({"new_password": "temporary secret 1"})).await.unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{b}");
        let (_, listed) = body(admin.get(&srv.at("/api/users")).send().await.unwrap()).await;
        let kim = listed["data"]["users"].as_array().unwrap().iter().find(|u| u["username"] == "kim").unwrap().clone();
        assert_eq!(kim["must_change_password"], true);
        assert_eq!(listed["data"]["counts"]["by_role"]["viewer"], 1);
        assert!(!listed.to_string().contains("argon2") && !listed.to_string().contains("password_hash"));

        let (_, iam) = body(admin.get(&srv.at("/api/iam/data")).send().await.unwrap()).await;
        assert_eq!(iam["data"]["all_permissions"].as_array().unwrap().len(), 18);
        assert!(iam["data"].get("db_uri").is_none(), "the old tool leaked it; we do not");

        // The last admin stays.
        let (status, b) =
            body(admin.request(reqwest::Method::DELETE, &srv.at("/api/users/admin1")).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::CONFLICT, "{b}");
        let (status, _) =
            body(admin.request(reqwest::Method::DELETE, &srv.at("/api/users/kim")).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::OK);

        let (status, audit) =
            body(admin.get(&srv.at("/api/audit?action=user.&per_page=50")).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        let actions: Vec<(&str, bool)> = audit["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["action"].as_str().unwrap(), e["success"].as_bool().unwrap()))
            .collect();
        assert_eq!(
            actions,
            [
                ("user.delete", true),
                ("user.delete", false),
                ("user.permissions", false),
                ("user.permissions", true),
                ("user.role", true),
                ("user.create", false),
                ("user.create", false),
                ("user.create", true),
            ],
            "{}",
            srv.backend()
        );
        let entry = &audit["data"][0];
        assert_eq!(
            (entry["actor"].as_str(), entry["target"].as_str(), entry["source_ip"].as_str()),
            (Some("admin1"), Some("kim"), Some("127.0.0.1"))
        );
        assert_eq!(audit["pagination"]["total"], 8);
        assert!(!audit.to_string().contains(PASSWORD));
        let (status, _) = body(admin.get(&srv.at("/api/audit?per_page=0")).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn pages_need_a_login_and_the_login_page_works_without_javascript() {
    for srv in spawn_each_backend().await {
        let resp = client().get(srv.at("/servers?x=1")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(resp.headers()["location"], "/login?next=%2Fservers%3Fx%3D1");
        let page = client().get(srv.at("/login")).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        assert!(
            html.contains("<form") && html.contains("action=\"/login\"") && html.contains("name=\"password\""),
            "{html}"
        );
        // Where to go after login is in the server-rendered form itself (no JavaScript needed).
        let html = client().get(srv.at("/login?next=%2Fservers")).send().await.unwrap().text().await.unwrap();
        assert!(html.contains("name=\"next\" value=\"/servers\""), "{html}");

        srv.add_user("kim", "viewer").await;
        let wrong = client()
            .post(srv.at("/login"))
            .form(&[("username", "kim"), ("password", "nope nope nope"), ("next", "/servers")])
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.headers()["location"], "/login?error=invalid&next=%2Fservers");
        let html = client().get(srv.at("/login?error=invalid")).send().await.unwrap().text().await.unwrap();
        assert!(html.contains("Invalid username or password"));
        let ok = client()
            .post(srv.at("/login"))
            .form(&[("username", "kim"), ("password", PASSWORD), ("next", "//evil.example")])
            .send()
            .await
            .unwrap();
        assert_eq!(ok.headers()["location"], "/", "no open redirect");
        let cookie = session_cookie(&ok).unwrap();
        let home = client().get(srv.at("/")).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(home.status(), StatusCode::OK);
        let login_again = client().get(srv.at("/login")).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(login_again.headers()["location"], "/");
    }
}
