//! User records: storage only. Who may change them, and the rules (password policy, the last
//! admin), live in `auth` and `iam`.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{clock, Database, Error, Result};

#[derive(Clone, PartialEq, serde::Serialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    /// Display name and e-mail: optional, kept because the old tool's user object has them.
    pub name: String,
    pub email: String,
    /// Never serialised: a hash still must not leave the server.
    #[serde(skip)]
    pub password_hash: String,
    pub role: String,
    pub permissions: Vec<String>,
    pub active: bool,
    pub must_change_password: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_login_at: Option<i64>,
}

impl std::fmt::Debug for User {
    // The hash stays out of debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("role", &self.role)
            .field("permissions", &self.permissions)
            .field("active", &self.active)
            .field("must_change_password", &self.must_change_password)
            .finish_non_exhaustive()
    }
}

impl User {
    /// The user as the pages show them: typed permissions, no hash. (Stored names are checked
    /// when written, so none is dropped here.)
    pub fn view(&self) -> model::auth::UserView {
        model::auth::UserView {
            username: self.username.clone(),
            name: self.name.clone(),
            email: self.email.clone(),
            role: self.role.clone(),
            permissions: self.permissions.iter().filter_map(|p| model::auth::parse_permission(p)).flatten().collect(),
            active: self.active,
            must_change_password: self.must_change_password,
            created_at: self.created_at,
            last_login: self.last_login_at,
        }
    }
}

#[derive(Clone, Default)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub password_hash: &'a str,
    pub role: &'a str,
    pub permissions: &'a [String],
    pub must_change_password: bool,
    pub name: &'a str,
    pub email: &'a str,
}

#[derive(Debug, Clone)]
pub struct UserStore {
    db: Database,
}

const COLUMNS: &str = "id, username, name, email, password_hash, role, permissions, active, \
                       must_change_password, created_at, updated_at, last_login_at";

impl UserStore {
    pub fn new(db: Database) -> Self {
        UserStore { db }
    }

    pub async fn create(&self, new: NewUser<'_>) -> Result<User> {
        validate_username(new.username)?;
        let now = clock::now_ms();
        let inserted = sqlx::query(
            "INSERT INTO users (username, password_hash, role, permissions, active, \
             must_change_password, created_at, updated_at, name, email) VALUES ($1, $2, $3, $4, 1, $5, $6, $6, $7, $8)",
        )
        .bind(new.username)
        .bind(new.password_hash)
        .bind(new.role)
        .bind(new.permissions.join(" "))
        .bind(i64::from(new.must_change_password))
        .bind(now)
        .bind(new.name)
        .bind(new.email)
        .execute(self.db.pool())
        .await;
        match inserted {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                let existing = self.same_name_any_case(new.username).await?.unwrap_or_else(|| new.username.to_owned());
                return Err(Error::Conflict(if existing == new.username {
                    format!("user {} already exists", new.username)
                } else {
                    format!("user {existing} already exists; usernames are unique whatever their case")
                }));
            }
            other => {
                other?;
            }
        }
        self.by_username(new.username).await?.ok_or_else(|| Error::Internal("user vanished right after insert".into()))
    }

    pub async fn by_username(&self, username: &str) -> Result<Option<User>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE username = $1"))
            .bind(username)
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// The username that equals `username` ignoring case, if any (`Admin` finds `admin`).
    pub async fn same_name_any_case(&self, username: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT username FROM users WHERE lower(username) = lower($1)")
            .bind(username)
            .fetch_optional(self.db.pool())
            .await?)
    }

    pub async fn by_id(&self, id: i64) -> Result<Option<User>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn list(&self) -> Result<Vec<User>> {
        let rows =
            sqlx::query(&format!("SELECT {COLUMNS} FROM users ORDER BY username")).fetch_all(self.db.pool()).await?;
        rows.iter().map(from_row).collect()
    }

    /// Stamps a successful login.
    pub async fn record_login(&self, id: i64, at: i64) -> Result<()> {
        sqlx::query("UPDATE users SET last_login_at = $1 WHERE id = $2")
            .bind(at)
            .bind(id)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Replaces the password hash and sets or clears the forced-change flag.
    pub async fn set_password_hash(&self, id: i64, hash: &str, must_change: bool) -> Result<()> {
        sqlx::query("UPDATE users SET password_hash = $1, must_change_password = $2, updated_at = $3 WHERE id = $4")
            .bind(hash)
            .bind(i64::from(must_change))
            .bind(clock::now_ms())
            .bind(id)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn set_role_and_permissions(&self, id: i64, role: &str, permissions: &[String]) -> Result<()> {
        sqlx::query("UPDATE users SET role = $1, permissions = $2, updated_at = $3 WHERE id = $4")
            .bind(role)
            .bind(permissions.join(" "))
            .bind(clock::now_ms())
            .bind(id)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn set_active(&self, id: i64, active: bool) -> Result<()> {
        sqlx::query("UPDATE users SET active = $1, updated_at = $2 WHERE id = $3")
            .bind(i64::from(active))
            .bind(clock::now_ms())
            .bind(id)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM users").fetch_one(self.db.pool()).await?)
    }

    /// Deletes a user and, through the foreign key, their sessions; `false` if there was none.
    pub async fn delete(&self, username: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM users WHERE username = $1").bind(username).execute(self.db.pool()).await?;
        Ok(done.rows_affected() > 0)
    }
}

fn from_row(row: &AnyRow) -> Result<User> {
    let permissions: String = row.try_get("permissions")?;
    Ok(User {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        password_hash: row.try_get("password_hash")?,
        role: row.try_get("role")?,
        permissions: permissions.split_whitespace().map(str::to_owned).collect(),
        active: row.try_get::<i64, _>("active")? != 0,
        must_change_password: row.try_get::<i64, _>("must_change_password")? != 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        last_login_at: row.try_get("last_login_at")?,
    })
}

/// Usernames appear in URLs (`/api/users/<username>`) and pages: keep them plain.
pub fn validate_username(name: &str) -> Result<()> {
    let ok = (1..=64).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(Error::validation(
            "username",
            "a username is 1–64 characters of letters, digits, '.', '_' or '-', starting with a letter or digit",
        ))
    }
}
