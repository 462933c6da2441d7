//! User administration, tokens and the audit log, on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may fail loudly

use domain::audit::AuditFilter;
use domain::auth::{Actor, AuthMethod, Origin};
use domain::iam::CreateUser;
use domain::testing::fresh_databases;
use domain::{Error, Services};

const PW: &str = "correct horse battery";

async fn admin(s: &Services) -> Actor {
    s.auth.ensure_first_admin(Some(PW)).await.unwrap();
    let user = s.users.by_username("admin").await.unwrap().unwrap();
    Actor::from_user(&user, AuthMethod::Session, Some("192.0.2.1".into()))
}

fn new_user(name: &str, role: Option<&str>, permissions: Option<Vec<String>>) -> CreateUser {
    CreateUser {
        username: name.into(),
        password: PW.into(),
        role: role.map(Into::into),
        permissions,
        ..Default::default()
    }
}

#[tokio::test]
async fn roles_give_their_defaults_unless_permissions_are_explicit() {
    for db in fresh_databases().await {
        let s = Services::new(db, true);
        let a = admin(&s).await;
        let dev = s.iam.create(&a, new_user("dev1", None, None)).await.unwrap();
        assert_eq!(dev.role, "developer", "the old tool's default role");
        assert!(dev.permissions.contains(&"create_server".to_owned()));
        let custom =
            s.iam.create(&a, new_user("ops1", Some("operator"), Some(vec!["manage_backups".into()]))).await.unwrap();
        assert_eq!(custom.permissions, vec!["backup_management".to_owned()], "seed short names expand");
        let viewer = s.iam.set_role(&a, "dev1", "viewer", None).await.unwrap();
        assert_eq!(viewer.permissions, vec!["view_all".to_owned()], "a role change resets to its defaults");
        let kept = s.iam.set_role(&a, "dev1", "operator", Some(&["view_logs".to_owned()])).await.unwrap();
        assert_eq!((kept.role.as_str(), kept.permissions.clone()), ("operator", vec!["view_logs".to_owned()]));
        let bad = s.iam.set_permissions(&a, "dev1", &["view_all".into(), "root".into()]).await.unwrap_err();
        assert!(matches!(&bad, Error::Validation { field: Some(f), .. } if f == "permissions"), "{bad:?}");
        assert!(matches!(s.iam.set_role(&a, "dev1", "superuser", None).await, Err(Error::Validation { .. })));
        let weak = s.iam.create(&a, CreateUser { password: "short".into(), ..new_user("weak", None, None) }).await;
        assert!(matches!(weak, Err(Error::Validation { .. })));
        assert!(matches!(s.iam.create(&a, new_user("dev1", None, None)).await, Err(Error::Conflict(_))));
        // A non-admin is refused by the service itself, whatever door it came through.
        let op = Actor::from_user(&custom, AuthMethod::Session, None);
        assert!(matches!(s.iam.list(&op).await, Err(Error::Forbidden(_))));
    }
}

#[tokio::test]
async fn the_last_admin_cannot_be_deleted_demoted_deactivated_or_stripped() {
    for db in fresh_databases().await {
        let s = Services::new(db, true);
        let a = admin(&s).await;
        s.iam.create(&a, new_user("boss", Some("admin"), None)).await.unwrap();
        let boss = Actor::from_user(&s.users.by_username("boss").await.unwrap().unwrap(), AuthMethod::Session, None);
        // Two admins: one may be deactivated. Now `admin` is the last active one.
        s.iam.set_active(&a, "boss", false).await.unwrap();
        for err in [
            s.iam.set_role(&boss, "admin", "viewer", None).await.unwrap_err(),
            s.iam.set_permissions(&boss, "admin", &["view_all".into()]).await.unwrap_err(),
            s.iam.set_active(&boss, "admin", false).await.unwrap_err(),
            s.iam.delete(&boss, "admin").await.unwrap_err(),
        ] {
            assert!(matches!(err, Error::Conflict(ref m) if m.contains("last active admin")), "{err:?}");
        }
        let own = s.iam.delete(&a, "admin").await.unwrap_err();
        assert!(matches!(own, Error::Conflict(ref m) if m.contains("own account")), "{own:?}");
        let admin_row = s.users.by_username("admin").await.unwrap().unwrap();
        assert!(admin_row.active && admin_row.role == "admin" && admin_row.permissions.len() == 18, "nothing changed");
        // With boss back, the old admin may be demoted.
        s.iam.set_active(&a, "boss", true).await.unwrap();
        assert_eq!(s.iam.set_role(&boss, "admin", "viewer", None).await.unwrap().role, "viewer");
    }
}

#[tokio::test]
async fn deactivation_and_password_resets_end_sessions_and_stop_tokens() {
    for db in fresh_databases().await {
        let s = Services::new(db, true);
        let a = admin(&s).await;
        s.iam.create(&a, new_user("kim", Some("operator"), None)).await.unwrap();
        let logged = s.auth.login("kim", PW, Origin::default()).await.unwrap();
        let (kim, _) = s.auth.authenticate_session(&logged.session.secret, None).await.unwrap().unwrap();
        let token = s.auth.create_token(&kim, "ci", None).await.unwrap();
        assert!(token.secret.starts_with("pft_"));
        assert!(s.auth.authenticate_token(&token.secret, None).await.unwrap().is_some());

        s.iam.set_active(&a, "kim", false).await.unwrap();
        assert!(s.auth.authenticate_session(&logged.session.secret, None).await.unwrap().is_none());
        assert!(
            s.auth.authenticate_token(&token.secret, None).await.unwrap().is_none(),
            "tokens of a deactivated user stop"
        );
        s.iam.set_active(&a, "kim", true).await.unwrap();
        assert!(s.auth.authenticate_token(&token.secret, None).await.unwrap().is_some());

        let second = s.auth.create_token(&kim, "second", None).await.unwrap();
        s.auth.revoke_token(&kim, second.token.id).await.unwrap();
        assert!(s.auth.authenticate_token(&second.secret, None).await.unwrap().is_none(), "revoked at once");
        assert!(s.auth.authenticate_token(&token.secret, None).await.unwrap().is_some(), "only that one");

        let logged = s.auth.login("kim", PW, Origin::default()).await.unwrap();
        s.iam.reset_password(&a, "kim", "a brand new secret", Some("a brand new secret")).await.unwrap();
        assert!(s.auth.authenticate_session(&logged.session.secret, None).await.unwrap().is_none());
        assert!(
            s.auth.authenticate_token(&token.secret, None).await.unwrap().is_none(),
            "a reset revokes the tokens too"
        );
        let again = s.auth.login("kim", "a brand new secret", Origin::default()).await.unwrap();
        assert!(again.user.must_change_password, "a reset password is temporary");
        let own = s.iam.reset_password(&a, "admin", "another admin secret", None).await.unwrap_err();
        assert!(matches!(own, Error::Conflict(_)), "one's own password is changed with the current one: {own:?}");
        // Someone else's token looks like no token at all.
        s.iam.create(&a, new_user("lee", Some("viewer"), None)).await.unwrap();
        let lee = Actor::from_user(&s.users.by_username("lee").await.unwrap().unwrap(), AuthMethod::Session, None);
        assert!(matches!(s.auth.revoke_token(&lee, token.token.id).await, Err(Error::NotFound(_))));
    }
}

#[tokio::test]
async fn changing_ones_password_checks_the_current_one_and_ends_other_sessions() {
    for db in fresh_databases().await {
        let s = Services::new(db, true);
        let a = admin(&s).await;
        s.iam.create(&a, new_user("kim", Some("viewer"), None)).await.unwrap();
        let laptop = s.auth.login("kim", PW, Origin::default()).await.unwrap();
        let phone = s.auth.login("kim", PW, Origin::default()).await.unwrap();
        let (kim, _) = s.auth.authenticate_session(&laptop.session.secret, None).await.unwrap().unwrap();
        let wrong = s.auth.change_own_password(&kim, "not it", "another good one", None, Origin::default()).await;
        assert!(matches!(wrong, Err(Error::Validation { field: Some(ref f), .. }) if f == "current_password"));
        let mismatch =
            s.auth.change_own_password(&kim, PW, "another good one", Some("another good 1"), Origin::default()).await;
        assert!(matches!(mismatch, Err(Error::Validation { field: Some(ref f), .. }) if f == "confirm_password"));
        let fresh =
            s.auth.change_own_password(&kim, PW, "another good one", None, Origin::default()).await.unwrap().unwrap();
        for old in [&laptop.session.secret, &phone.session.secret] {
            assert!(s.auth.authenticate_session(old, None).await.unwrap().is_none());
        }
        assert!(s.auth.authenticate_session(&fresh.secret, None).await.unwrap().is_some());
    }
}

#[tokio::test]
async fn the_audit_log_records_who_what_target_result_and_filters() {
    for db in fresh_databases().await {
        let s = Services::new(db, true);
        let a = admin(&s).await;
        assert!(s
            .auth
            .login("admin", "wrong one", Origin { ip: Some("198.51.100.7"), user_agent: None })
            .await
            .is_err());
        s.auth.login("admin", PW, Origin { ip: Some("198.51.100.7"), user_agent: None }).await.unwrap();
        s.iam.create(&a, new_user("kim", Some("viewer"), None)).await.unwrap();
        assert!(s.iam.delete(&a, "nobody").await.is_err());
        let (all, total) = s.iam.audit_log(&a, &AuditFilter::default(), 1, 50).await.unwrap();
        assert_eq!(total, 5);
        let actions: Vec<(&str, bool)> = all.iter().map(|e| (e.action.as_str(), e.success)).collect();
        assert_eq!(
            actions,
            [("user.delete", false), ("user.create", true), ("login", true), ("login", false), ("user.create", true)],
            "newest first; the first admin's creation is recorded too"
        );
        assert_eq!((all[4].actor.as_deref(), all[4].target.as_deref()), (None, Some("admin")));
        let failed_login = &all[3];
        assert_eq!((failed_login.actor.as_deref(), failed_login.target.as_deref()), (None, Some("admin")));
        assert_eq!(failed_login.source_ip.as_deref(), Some("198.51.100.7"));
        assert_eq!(failed_login.detail, "wrong password");
        assert!(!all.iter().any(|e| e.detail.contains(PW)), "no secrets in the log");

        let users = AuditFilter { action: Some("user.".into()), ..Default::default() };
        let (only_users, n) = s.iam.audit_log(&a, &users, 1, 50).await.unwrap();
        assert_eq!(n, 3);
        assert!(only_users.iter().all(|e| e.action.starts_with("user.")));
        let by_admin = AuditFilter { actor: Some("admin".into()), action: Some("login".into()), ..Default::default() };
        assert_eq!(s.iam.audit_log(&a, &by_admin, 1, 50).await.unwrap().1, 1);
        let future = AuditFilter { since: Some(i64::MAX - 1), ..Default::default() };
        assert_eq!(s.iam.audit_log(&a, &future, 1, 50).await.unwrap().1, 0);
        let (page2, _) = s.iam.audit_log(&a, &AuditFilter::default(), 2, 3).await.unwrap();
        assert_eq!(page2.len(), 2);
    }
}
