//! Who may do what, as every side sees it: the 18-permission catalogue (kept from the old tool
//! so its users and scripts recognise the names), the seed API's short names mapped onto it,
//! the four roles' defaults, and the user, token and audit records the pages show.

use std::collections::BTreeSet;
use std::fmt;

macro_rules! permissions {
    ($($variant:ident => $name:literal, $description:literal;)*) => {
        /// Serialised as its catalogue name (`create_server`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Permission { $($variant),* }

        impl Permission {
            pub const ALL: &'static [Permission] = &[$(Permission::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $(Permission::$variant => $name),* }
            }

            /// What the permission allows, for the IAM screens.
            pub fn description(self) -> &'static str {
                match self { $(Permission::$variant => $description),* }
            }

            fn from_catalogue_name(name: &str) -> Option<Permission> {
                match name { $($name => Some(Permission::$variant),)* _ => None }
            }
        }
    };
}

permissions! {
    ViewAll => "view_all", "See all servers, jobs and settings";
    CreateServer => "create_server", "Create servers from templates";
    DeleteServer => "delete_server", "Delete servers and their disks";
    StartServer => "start_server", "Start servers";
    StopServer => "stop_server", "Stop servers";
    RebootServer => "reboot_server", "Reboot servers";
    ManageServer => "manage_server", "Change server settings and disks";
    AssignRoles => "assign_roles", "Provision Ansible roles on servers";
    RemoveRole => "remove_role", "Remove Ansible roles from servers";
    ManageFirewallGroups => "manage_firewall_groups", "Create, edit and delete security groups and rules";
    AssignFirewallGroups => "assign_firewall_groups", "Apply security groups to servers";
    RemoveFirewallGroups => "remove_firewall_groups", "Remove security groups from servers";
    BackupManagement => "backup_management", "Back up, restore and delete backups";
    ManageUsers => "manage_users", "Manage users, roles, permissions and tokens";
    ManageStorage => "manage_storage", "Manage datastores and their defaults";
    ManageNetwork => "manage_network", "Manage IP pools";
    ManageRoles => "manage_roles", "Manage the Ansible role catalogue";
    ViewLogs => "view_logs", "Read task logs and the audit log";
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses a catalogue name or one of the seed API's short names (which grant several).
/// `None` for anything else: unknown names are refused, never stored.
pub fn parse_permission(name: &str) -> Option<Vec<Permission>> {
    use Permission as P;
    if let Some(p) = Permission::from_catalogue_name(name) {
        return Some(vec![p]);
    }
    let group: &[Permission] = match name {
        "manage_servers" => &[P::StartServer, P::StopServer, P::RebootServer, P::ManageServer],
        "manage_firewall" => &[P::ManageFirewallGroups, P::AssignFirewallGroups, P::RemoveFirewallGroups],
        "manage_backups" => &[P::BackupManagement],
        "admin_access" => &[P::ManageUsers, P::ViewLogs],
        _ => return None,
    };
    Some(group.to_vec())
}

/// Parses a list of names into a set, naming the first unknown one.
pub fn parse_permissions<S: AsRef<str>>(names: &[S]) -> Result<BTreeSet<Permission>, String> {
    let mut out = BTreeSet::new();
    for n in names {
        let n = n.as_ref().trim();
        out.extend(parse_permission(n).ok_or_else(|| format!("unknown permission {n:?}"))?);
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Developer,
    Operator,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Developer, Role::Operator, Role::Viewer];

    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Developer => "developer",
            Role::Operator => "operator",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// The permissions a user gets with this role unless given others explicitly.
    pub fn default_permissions(self) -> BTreeSet<Permission> {
        use Permission as P;
        let list: &[Permission] = match self {
            Role::Admin => Permission::ALL,
            Role::Developer => &[
                P::ViewAll,
                P::CreateServer,
                P::StartServer,
                P::StopServer,
                P::RebootServer,
                P::ManageServer,
                P::AssignRoles,
                P::RemoveRole,
                P::AssignFirewallGroups,
                P::RemoveFirewallGroups,
                P::BackupManagement,
                P::ViewLogs,
            ],
            Role::Operator => {
                &[P::ViewAll, P::StartServer, P::StopServer, P::RebootServer, P::BackupManagement, P::ViewLogs]
            }
            Role::Viewer => &[P::ViewAll],
        };
        list.iter().copied().collect()
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A user as the pages see them: the signed-in user's own record and the rows of the user
/// administration (never the password hash, which stays in the domain's `User`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct UserView {
    pub username: String,
    pub name: String,
    pub email: String,
    pub role: String,
    pub permissions: Vec<Permission>,
    pub active: bool,
    pub must_change_password: bool,
    pub created_at: i64,
    pub last_login: Option<i64>,
}

impl UserView {
    pub fn can(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }
}

/// One permission of the catalogue with what it allows, for the IAM screens.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct PermissionInfo {
    pub name: String,
    pub description: String,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct RoleInfo {
    pub name: String,
    pub default_permissions: Vec<String>,
}

pub fn permission_catalogue() -> Vec<PermissionInfo> {
    Permission::ALL
        .iter()
        .map(|p| PermissionInfo { name: p.as_str().into(), description: p.description().into() })
        .collect()
}

pub fn role_catalogue() -> Vec<RoleInfo> {
    Role::ALL
        .iter()
        .map(|r| RoleInfo {
            name: r.as_str().into(),
            default_permissions: r.default_permissions().iter().map(|p| p.as_str().to_owned()).collect(),
        })
        .collect()
}

/// The user administration screen in one read.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IamView {
    pub users: Vec<UserView>,
    pub permissions: Vec<PermissionInfo>,
    pub roles: Vec<RoleInfo>,
}

// Its secret is shown once, at creation; only its hash is stored.
/// A token as listed: never its secret. Times are UTC unix milliseconds.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = TokenJson))]
pub struct ApiToken {
    pub id: i64,
    // Whose token it is: the domain's business, not shown (the list is the caller's own).
    #[serde(skip)]
    pub user_id: i64,
    pub name: String,
    /// The first characters of the secret, to tell tokens apart.
    pub prefix: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    // Whether it worked when it was read, by the server's clock (the browser's may differ).
    pub active: bool,
}

impl ApiToken {
    pub fn is_usable(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| now < e)
    }
}

/// One recorded action of the audit log.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AuditEntry {
    #[serde(skip_deserializing)]
    pub id: i64,
    /// UTC unix milliseconds.
    pub at: i64,
    /// The acting username; `None` for anonymous attempts.
    pub actor: Option<String>,
    /// Dotted verb, e.g. `login`, `user.create`, `server.start`.
    pub action: String,
    pub target: Option<String>,
    pub source_ip: Option<String>,
    pub success: bool,
    /// What changed or why it failed. Never a secret.
    pub detail: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_has_the_eighteen_names_of_the_old_tool() {
        let names: Vec<&str> = Permission::ALL.iter().map(|p| p.as_str()).collect();
        assert_eq!(names.len(), 18);
        for n in ["view_all", "create_server", "manage_firewall_groups", "backup_management", "view_logs"] {
            assert!(names.contains(&n), "{n}");
        }
        for p in Permission::ALL {
            assert_eq!(parse_permission(p.as_str()), Some(vec![*p]));
            assert!(!p.description().is_empty());
        }
    }

    #[test]
    fn seed_short_names_expand_and_unknown_names_are_refused() {
        let set = parse_permissions(&["manage_servers", "view_all"]).unwrap_or_default();
        assert!(set.contains(&Permission::StartServer) && set.contains(&Permission::ManageServer));
        assert!(set.contains(&Permission::ViewAll));
        let err = parse_permissions(&["view_all", "make_me_admin"]).unwrap_err();
        assert!(err.contains("make_me_admin"));
    }

    #[test]
    fn permissions_and_roles_travel_as_their_names() {
        for p in Permission::ALL {
            assert_eq!(serde_json::to_value(p).ok(), Some(serde_json::Value::from(p.as_str())));
        }
        for r in Role::ALL {
            assert_eq!(serde_json::to_value(r).ok(), Some(serde_json::Value::from(r.as_str())));
        }
    }

    #[test]
    fn roles_have_nested_defaults() {
        assert_eq!(Role::Admin.default_permissions().len(), 18);
        let viewer = Role::Viewer.default_permissions();
        let operator = Role::Operator.default_permissions();
        let developer = Role::Developer.default_permissions();
        assert!(viewer.is_subset(&operator) && operator.is_subset(&developer));
        assert!(!developer.contains(&Permission::ManageUsers));
        assert_eq!(Role::parse("operator"), Some(Role::Operator));
        assert_eq!(Role::parse("root"), None);
    }
}
