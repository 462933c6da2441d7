//! Logging in and the first administrator, on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may fail loudly

use domain::auth::lockout::LockoutPolicy;
use domain::auth::login::{AuthService, Origin};
use domain::auth::password;
use domain::auth::sessions::SessionPolicy;
use domain::testing::fresh_databases;
use domain::users::{NewUser, UserStore};
use domain::{Database, Error, Services};

fn service(db: &Database, policy: LockoutPolicy) -> AuthService {
    Services::with_policies(db.clone(), true, SessionPolicy::default(), policy).auth
}

async fn add_user(db: &Database, name: &str, pw: &str) {
    let hash = password::hash(pw).unwrap();
    UserStore::new(db.clone())
        .create(NewUser {
            username: name,
            password_hash: &hash,
            role: "viewer",
            permissions: &[],
            must_change_password: false,
            ..Default::default()
        })
        .await
        .unwrap();
}

const IP: Origin<'static> = Origin { ip: Some("192.0.2.10"), user_agent: Some("tests") };

#[tokio::test]
async fn the_first_admin_gets_a_one_time_password_once() {
    for db in fresh_databases().await {
        let auth = service(&db, LockoutPolicy::default());
        let otp = auth.ensure_first_admin(None).await.unwrap().expect("a one-time password");
        assert!(otp.len() >= 16);
        assert_eq!(auth.ensure_first_admin(None).await.unwrap(), None, "only on first start");
        let logged = auth.login("admin", &otp, IP).await.unwrap();
        assert_eq!(logged.user.role, "admin");
        assert!(logged.user.must_change_password);
        assert_eq!(logged.user.permissions.len(), 18);
        assert!(auth.sessions().resolve(&logged.session.secret).await.unwrap().is_some());
        let stored = UserStore::new(db.clone()).by_username("admin").await.unwrap().unwrap();
        assert!(stored.last_login_at.is_some());
        assert!(!stored.password_hash.contains(&otp), "the password is stored hashed");
    }
}

#[tokio::test]
async fn an_operator_chosen_admin_password_is_used_as_is() {
    for db in fresh_databases().await {
        let auth = service(&db, LockoutPolicy::default());
        let weak = auth.ensure_first_admin(Some("admin")).await.unwrap_err();
        assert!(matches!(weak, Error::Validation { .. }), "a weak chosen password is refused: {weak:?}");
        assert_eq!(auth.ensure_first_admin(Some("automation-secret-1")).await.unwrap(), None);
        let logged = auth.login("admin", "automation-secret-1", IP).await.unwrap();
        assert!(!logged.user.must_change_password);
    }
}

#[tokio::test]
async fn every_failure_looks_the_same() {
    for db in fresh_databases().await {
        add_user(&db, "kim", "correct horse battery").await;
        add_user(&db, "old", "correct horse battery").await;
        sqlx::query("UPDATE users SET active = 0 WHERE username = 'old'").execute(db.pool()).await.unwrap();
        let auth = service(&db, LockoutPolicy::default());
        let wrong_pw = auth.login("kim", "wrong password!", IP).await.unwrap_err();
        let unknown = auth.login("nobody", "correct horse battery", IP).await.unwrap_err();
        let inactive = auth.login("old", "correct horse battery", IP).await.unwrap_err();
        for e in [&wrong_pw, &unknown, &inactive] {
            assert!(matches!(e, Error::InvalidCredentials), "{e:?}");
            assert_eq!(e.to_string(), "invalid username or password");
        }
        let ok = auth.login("kim", "correct horse battery", IP).await.unwrap();
        assert_eq!(ok.user.username, "kim");
    }
}

/// Three failures before the pair locks or the username slows down; delays of 50–100 ms.
fn short(pair: u32) -> LockoutPolicy {
    LockoutPolicy {
        max_failures_per_pair: pair,
        max_failures_per_ip: 100,
        free_failures_per_user: 3,
        first_delay_ms: 50,
        max_delay_ms: 100,
        window_ms: 60_000,
    }
}

#[tokio::test]
async fn repeated_failures_from_one_address_lock_it_out_of_the_account_even_for_the_right_password() {
    for db in fresh_databases().await {
        add_user(&db, "kim", "correct horse battery").await;
        let auth = service(&db, short(3));
        for _ in 0..3 {
            assert!(auth.login("kim", "guess", IP).await.is_err());
        }
        let locked = auth.login("kim", "correct horse battery", IP).await.unwrap_err();
        assert!(matches!(locked, Error::InvalidCredentials), "the lockout says nothing more");
        let sessions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions").fetch_one(db.pool()).await.unwrap();
        assert_eq!(sessions, 0, "{:?}", db.backend());
        let audited: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'login' AND detail LIKE 'locked out%'")
                .fetch_one(db.pool())
                .await
                .unwrap();
        assert_eq!(audited, 1, "the lockout is audited ({:?})", db.backend());
        // The same account from another address is not locked.
        let elsewhere = Origin { ip: Some("198.51.100.4"), user_agent: None };
        assert!(auth.login("kim", "correct horse battery", elsewhere).await.is_ok(), "{:?}", db.backend());
    }
}

#[tokio::test]
async fn failures_from_many_addresses_slow_the_account_but_its_owner_still_gets_in() {
    for db in fresh_databases().await {
        add_user(&db, "admin2", "correct horse battery").await;
        let auth = service(&db, short(3));
        let addresses: Vec<String> = (1..=6).map(|i| format!("203.0.113.{i}")).collect();
        for a in &addresses {
            assert!(auth.login("admin2", "guess", Origin { ip: Some(a), user_agent: None }).await.is_err());
        }
        // Six failures: the next attempt waits the capped 100 ms, then gets in.
        let started = std::time::Instant::now();
        let owner = Origin { ip: Some("192.0.2.99"), user_agent: None };
        assert!(auth.login("admin2", "correct horse battery", owner).await.is_ok(), "{:?}", db.backend());
        assert!(started.elapsed() >= std::time::Duration::from_millis(100), "the attempt was slowed");
        let details: Vec<String> =
            sqlx::query_scalar("SELECT detail FROM audit_log WHERE action = 'login' ORDER BY id")
                .fetch_all(db.pool())
                .await
                .unwrap();
        assert!(details[3].starts_with("wrong password (slowed by 50 ms after 3 recent failures"), "{details:?}");
        assert!(
            details[6].starts_with("(slowed by 100 ms after 6 recent failures"),
            "the successful login notes it: {details:?}"
        );
    }
}

#[tokio::test]
async fn parallel_guesses_cannot_overtake_the_lockout() {
    for db in fresh_databases().await {
        add_user(&db, "kim", "correct horse battery").await;
        let s = Services::with_policies(db.clone(), true, SessionPolicy::default(), short(3));
        let mut guesses = tokio::task::JoinSet::new();
        for i in 0..12 {
            let auth = s.auth.clone();
            guesses.spawn(async move { auth.login("kim", &format!("guess number {i}"), IP).await.is_err() });
        }
        while let Some(refused) = guesses.join_next().await {
            assert!(refused.unwrap());
        }
        let checked: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'login' AND detail = 'wrong password'")
                .fetch_one(db.pool())
                .await
                .unwrap();
        assert_eq!(checked, 3, "only as many passwords were tried as the limit allows ({:?})", db.backend());
        assert!(s.auth.login("kim", "correct horse battery", IP).await.is_err(), "and the account is locked");
    }
}
