//! The service layer both doors (REST and server functions) call. It is cheap to clone: every
//! field is a handle onto shared state.

use std::sync::Arc;

use crate::audit::AuditLog;
use crate::auth::api_tokens::TokenStore;
use crate::auth::lockout::{LockoutPolicy, LoginLimiter};
use crate::auth::sessions::{SessionPolicy, SessionStore};
use crate::auth::AuthService;
use crate::cluster::ClusterService;
use crate::db::{Database, SCHEMA_VERSION};
use crate::iam::UserAdmin;
use crate::jobs::{JobService, JobStore};
use crate::settings::SettingsStore;
use crate::users::UserStore;
use crate::{clock, Result};

#[derive(Debug, Clone)]
pub struct Services {
    pub db: Database,
    pub settings: SettingsStore,
    pub users: UserStore,
    /// Login, sessions, the caller's own password and tokens.
    pub auth: AuthService,
    /// User administration and the audit log.
    pub iam: UserAdmin,
    pub audit: AuditLog,
    /// The Proxmox cluster (real, or the built-in simulator); set with `with_cluster`.
    pub cluster: ClusterService,
    /// Durable jobs (the runner that executes them is started by the server).
    pub jobs: JobService,
    pub notifications: crate::notifications::Notifications,
    /// Live events for the SSE streams.
    pub events: crate::events::EventBus,
    /// IP pools and address allocations.
    pub ipam: crate::ipam::Ipam,
    /// Managed servers: inventory, create, lifecycle.
    pub servers: crate::servers::ServerService,
    /// Datastores and the default ones for new disks.
    pub datastores: crate::datastores::Datastores,
    /// Security groups, their rules, and attaching them to servers.
    pub firewall: crate::firewall::FirewallService,
    /// Backups: list, back up now, notes, protection, delete.
    pub backups: crate::backups::BackupService,
    started_at: i64,
    simulated_cluster: bool,
}

pub use model::system::SystemInfo;

impl Services {
    pub fn new(db: Database, simulated_cluster: bool) -> Self {
        Self::with_policies(db, simulated_cluster, SessionPolicy::default(), LockoutPolicy::default())
    }

    /// With explicit session and lockout policies (tests shorten them).
    pub fn with_policies(
        db: Database,
        simulated_cluster: bool,
        sessions: SessionPolicy,
        lockout: LockoutPolicy,
    ) -> Self {
        let users = UserStore::new(db.clone());
        let sessions = SessionStore::new(db.clone(), sessions);
        let audit = AuditLog::new(db.clone());
        let tokens = TokenStore::new(db.clone());
        let events = crate::events::EventBus::new(db.clone());
        let notifications = crate::notifications::Notifications::new(db.clone(), events.clone());
        let jobs = JobService::new(JobStore::new(db.clone()), 4);
        let ipam = crate::ipam::Ipam::new(db.clone(), audit.clone());
        let cluster = ClusterService::new(None);
        let settings = SettingsStore::new(db.clone());
        let datastores = crate::datastores::Datastores::new(cluster.clone(), settings.clone());
        let servers = crate::servers::ServerService::new(
            crate::servers::store::ServerStore::new(db.clone()),
            ipam.clone(),
            cluster.clone(),
            jobs.clone(),
            events.clone(),
            settings.clone(),
            audit.clone(),
        );
        let firewall = crate::firewall::FirewallService::new(
            cluster.clone(),
            servers.store.clone(),
            jobs.clone(),
            audit.clone(),
            settings.clone(),
        );
        let backups = crate::backups::BackupService::new(
            cluster.clone(),
            servers.store.clone(),
            jobs.clone(),
            notifications.clone(),
            audit.clone(),
        );
        Services {
            firewall,
            backups,
            settings,
            auth: AuthService::new(
                users.clone(),
                sessions.clone(),
                tokens.clone(),
                audit.clone(),
                Arc::new(LoginLimiter::new(lockout)),
                notifications.clone(),
            ),
            iam: UserAdmin::new(users.clone(), sessions, tokens, audit.clone()),
            audit,
            cluster,
            jobs,
            notifications,
            events,
            datastores,
            ipam,
            servers,
            users,
            db,
            started_at: clock::now_ms(),
            simulated_cluster,
        }
    }

    /// The same services talking to this Proxmox cluster.
    pub fn with_cluster(mut self, client: pve::PveClient) -> Self {
        self.cluster = ClusterService::new(Some(client));
        self.datastores = crate::datastores::Datastores::new(self.cluster.clone(), self.settings.clone());
        self.servers = crate::servers::ServerService::new(
            crate::servers::store::ServerStore::new(self.db.clone()),
            self.ipam.clone(),
            self.cluster.clone(),
            self.jobs.clone(),
            self.events.clone(),
            self.settings.clone(),
            self.audit.clone(),
        );
        self.firewall = crate::firewall::FirewallService::new(
            self.cluster.clone(),
            self.servers.store.clone(),
            self.jobs.clone(),
            self.audit.clone(),
            self.settings.clone(),
        );
        self.backups = crate::backups::BackupService::new(
            self.cluster.clone(),
            self.servers.store.clone(),
            self.jobs.clone(),
            self.notifications.clone(),
            self.audit.clone(),
        );
        self
    }

    /// Paces server creation and backups (tests shorten the waits).
    pub fn with_create_limits(mut self, limits: crate::servers::CreateLimits) -> Self {
        self.servers = self.servers.with_limits(limits.clone());
        self.backups = self.backups.with_limits(limits);
        self
    }

    pub fn system_info(&self) -> SystemInfo {
        SystemInfo {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            database: self.db.backend(),
            schema_version: SCHEMA_VERSION,
            started_at: self.started_at,
            simulated_cluster: self.simulated_cluster,
        }
    }

    /// Readiness: the database answers.
    pub async fn health(&self) -> Result<()> {
        self.db.ping().await.map_err(|e| crate::Error::Unavailable(format!("database unreachable: {e}")))
    }
}
