//! The storage suite: every case runs on SQLite and on PostgreSQL (see `domain::testing`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may fail loudly

use domain::db::{DbError, SCHEMA_VERSION};
use domain::testing::{fresh_databases, fresh_url};
use domain::users::NewUser;
use domain::{Backend, Database, Error, Services};
use serde_json::json;

#[tokio::test]
async fn migrations_record_the_schema_version_and_are_idempotent() {
    for db in fresh_databases().await {
        assert_eq!(db.schema_version().await.ok().flatten(), Some(SCHEMA_VERSION), "{:?}", db.backend());
        // A second start on the same database migrates nothing and still passes the check.
        db.migrate().await.unwrap_or_else(|e| panic!("{:?}: {e}", db.backend()));
        db.ping().await.unwrap_or_else(|e| panic!("{:?}: {e}", db.backend()));
    }
}

#[tokio::test]
async fn a_database_from_a_newer_proxfleet_is_refused_with_a_clear_error() {
    for db in fresh_databases().await {
        sqlx::query("UPDATE schema_version SET version = $1 WHERE id = 1")
            .bind(SCHEMA_VERSION + 1)
            .execute(db.pool())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let err = db.migrate().await.expect_err("newer schema must be refused");
        assert!(matches!(err, DbError::SchemaTooNew { found, .. } if found == SCHEMA_VERSION + 1));
        assert!(err.to_string().contains("upgrade proxfleet"), "{err}");
    }
}

/// An older database with two users whose names differ only by case cannot take the unique
/// index of schema 8: start-up refuses it, naming them, and changes nothing.
#[tokio::test]
async fn usernames_that_differ_only_by_case_stop_the_upgrade_with_their_names() {
    for db in fresh_databases().await {
        // Back to schema 7, as an older proxfleet left it (later migrations undone too).
        for statement in [
            "DROP TABLE server_firewall_state",
            "DROP TABLE server_firewall_groups",
            "DELETE FROM _sqlx_migrations WHERE version = 9",
            "DROP INDEX users_username_lower",
            "DELETE FROM _sqlx_migrations WHERE version = 8",
            "UPDATE schema_version SET version = 7 WHERE id = 1",
        ] {
            sqlx::query(statement).execute(db.pool()).await.unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
        let store = domain::users::UserStore::new(db.clone());
        for name in ["admin", "Admin", "kim"] {
            store
                .create(NewUser { username: name, password_hash: "x", role: "viewer", ..Default::default() })
                .await
                .unwrap();
        }
        let err = db.migrate().await.expect_err("the clash must stop the upgrade");
        assert!(
            matches!(&err, DbError::UsernamesDifferOnlyByCase(groups) if groups == &[vec!["Admin".to_owned(), "admin".to_owned()]]),
            "{err}"
        );
        assert!(err.to_string().contains("Admin / admin"), "{err}");
        assert_eq!(db.schema_version().await.ok().flatten(), Some(7), "nothing was migrated");
        // Once one of them is renamed, the upgrade goes through.
        sqlx::query("UPDATE users SET username = 'admin2' WHERE username = 'Admin'").execute(db.pool()).await.unwrap();
        db.migrate().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(db.schema_version().await.ok().flatten(), Some(SCHEMA_VERSION));
    }
}

#[tokio::test]
async fn sqlite_creates_its_folder_and_runs_in_wal_mode() {
    let url = fresh_url(Backend::Sqlite).await.unwrap_or_default();
    let nested = url.replace("proxfleet-tests/", "proxfleet-tests/nested/deeper/");
    let db = Database::open(&nested).await.unwrap_or_else(|e| panic!("{e}"));
    let mode: String =
        sqlx::query_scalar("PRAGMA journal_mode").fetch_one(db.pool()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(mode.to_lowercase(), "wal");
    let timeout: i64 =
        sqlx::query_scalar("PRAGMA busy_timeout").fetch_one(db.pool()).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(timeout >= 1000, "busy timeout {timeout}");
}

#[tokio::test]
async fn unsupported_database_urls_are_refused() {
    let err = Database::connect("mysql://localhost/x").await.expect_err("mysql is not supported");
    assert!(err.to_string().contains("sqlite:// or postgres://"), "{err}");
}

#[tokio::test]
async fn settings_round_trip_update_list_and_delete() {
    for db in fresh_databases().await {
        let s = Services::new(db.clone(), true).settings;
        let b = db.backend();
        assert_eq!(s.get("missing").await.ok(), Some(None), "{b:?}");
        s.set("datastore.default_hdd", &json!({"storage": "local-lvm"})).await.unwrap_or_else(|e| panic!("{b:?}: {e}"));
        s.set("retention.days", &json!(30)).await.unwrap_or_else(|e| panic!("{b:?}: {e}"));
        s.set("retention.days", &json!(45)).await.unwrap_or_else(|e| panic!("{b:?}: {e}"));
        assert_eq!(s.get("retention.days").await.ok().flatten(), Some(json!(45)), "{b:?}");
        let keys: Vec<String> = s.list().await.unwrap_or_default().into_iter().map(|x| x.key).collect();
        assert_eq!(keys, vec!["datastore.default_hdd", "retention.days"], "{b:?}");
        assert_eq!(s.delete("retention.days").await.ok(), Some(true), "{b:?}");
        assert_eq!(s.delete("retention.days").await.ok(), Some(false), "{b:?}");
        assert_eq!(s.get("retention.days").await.ok(), Some(None), "{b:?}");
    }
}

#[tokio::test]
async fn settings_reject_bad_keys_and_change_nothing() {
    for db in fresh_databases().await {
        let s = Services::new(db.clone(), true).settings;
        for bad in ["", "has space", "semi;colon", &"k".repeat(129)] {
            let err = s.set(bad, &json!(1)).await.expect_err("bad key must be refused");
            assert!(matches!(err, Error::Validation { ref field, .. } if field.as_deref() == Some("key")));
        }
        assert!(s.list().await.unwrap_or_default().is_empty(), "{:?}", db.backend());
    }
}

#[tokio::test]
async fn users_are_created_listed_unique_and_deleted() {
    for db in fresh_databases().await {
        let users = Services::new(db.clone(), true).users;
        let b = db.backend();
        let perms = vec!["view_all".to_owned(), "start_server".to_owned()];
        let new = NewUser {
            username: "kim.operator",
            password_hash: "$argon2id$stand-in",
            role: "operator",
            permissions: &perms,
            must_change_password: true,
            ..Default::default()
        };
        let created = users.create(new.clone()).await.unwrap_or_else(|e| panic!("{b:?}: {e}"));
        assert_eq!(created.username, "kim.operator");
        assert_eq!(created.permissions, perms);
        assert!(created.active && created.must_change_password);
        assert!(created.created_at > 0 && created.last_login_at.is_none());

        let dup = users.create(new).await.expect_err("duplicate must be refused");
        assert!(matches!(dup, Error::Conflict(_)), "{b:?}: {dup:?}");

        let bad = NewUser {
            username: "../etc",
            password_hash: "x",
            role: "viewer",
            permissions: &[],
            must_change_password: false,
            ..Default::default()
        };
        assert!(matches!(users.create(bad).await, Err(Error::Validation { .. })), "{b:?}");

        assert_eq!(users.count().await.ok(), Some(1), "{b:?}");
        assert_eq!(users.list().await.unwrap_or_default().len(), 1, "{b:?}");
        // The hash is never serialised.
        let json = serde_json::to_string(&created).unwrap_or_default();
        assert!(!json.contains("argon2"), "{json}");
        assert_eq!(users.delete("kim.operator").await.ok(), Some(true), "{b:?}");
        assert_eq!(users.by_username("kim.operator").await.ok(), Some(None), "{b:?}");
    }
}

#[tokio::test]
async fn deleting_a_user_removes_their_sessions() {
    for db in fresh_databases().await {
        let users = Services::new(db.clone(), true).users;
        let u = users
            .create(NewUser {
                username: "lee",
                password_hash: "h",
                role: "viewer",
                permissions: &[],
                must_change_password: false,
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        sqlx::query("INSERT INTO sessions (id, user_id, csrf_token, created_at, last_seen_at, expires_at) VALUES ('s1', $1, 'c', 1, 1, 2)")
            .bind(u.id)
            .execute(db.pool())
            .await
            .unwrap_or_else(|e| panic!("{:?}: {e}", db.backend()));
        users.delete("lee").await.unwrap_or_else(|e| panic!("{e}"));
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions")
            .fetch_one(db.pool())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(left, 0, "{:?}", db.backend());
    }
}
