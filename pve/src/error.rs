//! Errors, classified the way callers need them. PVE answers 500 for most domain failures
//! ("does not exist", "already exists", "VM is locked"), so the class comes from the status
//! *and* the message (as bpg's Go client does).

use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The VM, task, storage, group or volume does not exist.
    NotFound,
    /// A VM id, group or config file already exists.
    AlreadyExists,
    /// The VM is locked by another operation (clone, backup, create, migrate…).
    Locked,
    /// A guest or task did not finish in time.
    Timeout,
    /// Credentials refused (401/403).
    Auth,
    /// No answer: connection refused, TLS failure, proxy errors (595/596/599), 502/503/504.
    Unreachable,
    /// The object changed since the caller read it: its `digest` no longer matches
    /// ("detected modified configuration - file changed by other user?").
    Modified,
    /// Anything else PVE refused, with its message (parameter errors, "VM 100 not running"…).
    Rejected,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct PveError {
    pub kind: ErrorKind,
    /// HTTP status; 0 when there was no response.
    pub status: u16,
    /// PVE's message, first line, without the trailing newline.
    pub message: String,
    /// Per-parameter errors of a 400.
    pub errors: BTreeMap<String, String>,
}

impl PveError {
    pub fn new(kind: ErrorKind, status: u16, message: impl Into<String>) -> PveError {
        PveError { kind, status, message: message.into(), errors: BTreeMap::new() }
    }

    /// Classifies a PVE answer.
    pub fn from_response(status: u16, message: &str, errors: BTreeMap<String, String>) -> PveError {
        let message = message.lines().next().unwrap_or("").trim().to_owned();
        let all = format!("{message} {}", errors.values().cloned().collect::<Vec<_>>().join(" ")).to_lowercase();
        let kind = match status {
            401 | 403 => ErrorKind::Auth,
            502..=504 | 595 | 596 | 599 => ErrorKind::Unreachable,
            _ if all.contains("detected modified configuration") => ErrorKind::Modified,
            _ if all.contains("does not exist") || all.contains("no such") || all.contains("not found") => {
                ErrorKind::NotFound
            }
            _ if all.contains("already exists") => ErrorKind::AlreadyExists,
            _ if all.contains("is locked") || all.contains("can't lock file") => ErrorKind::Locked,
            _ if all.contains("timeout") || all.contains("timed out") => ErrorKind::Timeout,
            _ => ErrorKind::Rejected,
        };
        let message = match (message.is_empty(), errors.iter().next()) {
            (_, Some((field, e))) if message.is_empty() || message.starts_with("Parameter verification failed") => {
                format!("{field}: {e}")
            }
            (true, None) => format!("HTTP {status}"),
            _ => message,
        };
        PveError { kind, status, message, errors }
    }

    /// The request never reached the node: pveproxy could not connect to it (AnyEvent::HTTP's
    /// 595, "errors during connection establishment"), so nothing was done. Any other failure
    /// (596 "errors during … request sending", a dropped connection) may have been acted on.
    pub fn never_delivered(&self) -> bool {
        self.status == 595
    }

    /// Worth trying again after a pause: the cluster did not answer (connection refused or
    /// reset, 502/503/504, a proxy timeout 595/596/599), or a guest's config lock was not
    /// obtained in time ("can't lock file … - got timeout"), which a busy node says of a
    /// lock held for seconds. A lock held by an operation ("VM is locked (backup)") is not:
    /// that one lasts as long as the operation.
    pub fn is_transient(&self) -> bool {
        match self.kind {
            ErrorKind::Unreachable => true,
            ErrorKind::Locked => self.message.contains("got timeout"),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(status: u16, msg: &str) -> ErrorKind {
        PveError::from_response(status, msg, BTreeMap::new()).kind
    }

    #[test]
    fn classifies_by_status_and_message() {
        assert_eq!(
            kind(500, "Configuration file 'nodes/pve/qemu-server/999.conf' does not exist\n"),
            ErrorKind::NotFound
        );
        assert_eq!(kind(500, "no such security group 'web'"), ErrorKind::NotFound);
        assert_eq!(
            kind(500, "unable to create VM 100 - VM 100 already exists on node 'pve'"),
            ErrorKind::AlreadyExists
        );
        assert_eq!(kind(500, "VM is locked (clone)"), ErrorKind::Locked);
        let lock_timeout = "can't lock file '/var/lock/qemu-server/lock-100.conf' - got timeout";
        assert_eq!(kind(500, lock_timeout), ErrorKind::Locked);
        assert!(PveError::from_response(500, lock_timeout, BTreeMap::new()).is_transient());
        assert!(!PveError::from_response(500, "VM is locked (backup)", BTreeMap::new()).is_transient());
        assert!(PveError::from_response(503, "Service Unavailable", BTreeMap::new()).is_transient());
        assert!(!PveError::from_response(500, "VM 100 already exists", BTreeMap::new()).is_transient());
        assert_eq!(kind(500, "VM quit/powerdown failed - got timeout"), ErrorKind::Timeout);
        assert_eq!(kind(401, ""), ErrorKind::Auth);
        let stale = "detected modified configuration - file changed by other user? Try again.\n";
        assert_eq!(kind(500, stale), ErrorKind::Modified);
        assert_eq!(kind(596, "Connection timed out"), ErrorKind::Unreachable);
        assert_eq!(kind(500, "VM 100 not running"), ErrorKind::Rejected);
        let mut errors = BTreeMap::new();
        errors.insert("vmid".to_owned(), "VM 100 already exists".to_owned());
        let e = PveError::from_response(400, "Parameter verification failed.\n", errors);
        assert_eq!((e.kind, e.message.as_str()), (ErrorKind::AlreadyExists, "vmid: VM 100 already exists"));
    }
}
