//! Server-side sessions on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may fail loudly

use domain::auth::sessions::{SessionPolicy, SessionStore};
use domain::auth::tokens::digest;
use domain::testing::fresh_databases;
use domain::users::NewUser;
use domain::{Database, Services};

async fn user(db: &Database, name: &str) -> i64 {
    Services::new(db.clone(), true)
        .users
        .create(NewUser {
            username: name,
            password_hash: "h",
            role: "viewer",
            permissions: &[],
            must_change_password: false,
            ..Default::default()
        })
        .await
        .unwrap()
        .id
}

#[tokio::test]
async fn a_session_resolves_to_its_user_and_only_its_digest_is_stored() {
    for db in fresh_databases().await {
        let uid = user(&db, "kim").await;
        let store = SessionStore::new(db.clone(), SessionPolicy::default());
        let new = store.create(uid, Some("127.0.0.1"), Some("test-agent")).await.unwrap();
        let s = store.resolve(&new.secret).await.unwrap().expect("live session");
        assert_eq!(s.user_id, uid);
        assert_eq!(s.csrf_token, new.csrf_token);
        let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM sessions").fetch_all(db.pool()).await.unwrap();
        assert_eq!(ids, vec![digest(&new.secret)], "{:?}", db.backend());
        assert!(store.resolve("not-a-session").await.unwrap().is_none());
    }
}

#[tokio::test]
async fn logout_ends_one_session_and_a_password_change_ends_them_all() {
    for db in fresh_databases().await {
        let (kim, lee) = (user(&db, "kim").await, user(&db, "lee").await);
        let store = SessionStore::new(db.clone(), SessionPolicy::default());
        let a = store.create(kim, None, None).await.unwrap();
        let b = store.create(kim, None, None).await.unwrap();
        let c = store.create(lee, None, None).await.unwrap();
        assert!(store.end(&a.secret).await.unwrap());
        assert!(!store.end(&a.secret).await.unwrap());
        assert!(store.resolve(&a.secret).await.unwrap().is_none());
        assert!(store.resolve(&b.secret).await.unwrap().is_some());
        assert_eq!(store.end_all_for_user(kim).await.unwrap(), 1);
        assert!(store.resolve(&b.secret).await.unwrap().is_none());
        assert!(store.resolve(&c.secret).await.unwrap().is_some(), "another user's session survives");
    }
}

#[tokio::test]
async fn idle_and_absolute_timeouts_end_sessions() {
    for db in fresh_databases().await {
        let uid = user(&db, "kim").await;
        let policy = SessionPolicy { idle_ms: 30 * 60 * 1000, absolute_ms: 12 * 60 * 60 * 1000 };
        let store = SessionStore::new(db.clone(), policy);
        let idle = store.create(uid, None, None).await.unwrap();
        // The session was last used longer ago than the idle timeout.
        sqlx::query("UPDATE sessions SET last_seen_at = last_seen_at - $1 WHERE id = $2")
            .bind(policy.idle_ms + 1)
            .bind(digest(&idle.secret))
            .execute(db.pool())
            .await
            .unwrap();
        assert!(store.resolve(&idle.secret).await.unwrap().is_none(), "{:?}", db.backend());
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions").fetch_one(db.pool()).await.unwrap();
        assert_eq!(left, 0, "an expired session is removed");

        let short = SessionStore::new(db.clone(), SessionPolicy { idle_ms: policy.idle_ms, absolute_ms: 0 });
        let s = short.create(uid, None, None).await.unwrap();
        assert!(short.resolve(&s.secret).await.unwrap().is_none(), "past its absolute lifetime");
    }
}
