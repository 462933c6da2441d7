//! Security groups: Proxmox VE's cluster firewall groups, their rules, and attaching them to
//! servers.
//!
//! - `rules`: a rule as sent, checked like pve-firewall checks it; group names;
//! - `groups`: `FirewallService` — groups and rules (create, rename, copy, delete; add, change,
//!   move, delete rules), each write guarded by the list's digest;
//! - `replace`: a group's whole rule list set at once (the editor's Apply), in the fewest
//!   calls, put back as it was if it fails;
//! - `sets`: cluster IP sets and aliases (not deleted while a rule names them);
//! - `server`: one server's firewall (options, groups, rules, drift) and its options;
//! - `assign`: the `firewall.assign` job that attaches, detaches or replaces groups on servers;
//! - `evaluate`: a VM's rules as Proxmox enforces them (groups and macros written out) and
//!   whether a port stays reachable from the management sources;
//! - `preview`: what a change would do, per server, before it is made (`dry_run`).
//!
//! Proxmox holds the groups and rules; proxfleet's database holds only which groups it
//! attached to which server (`servers::store::FirewallRecord`).

pub mod assign;
pub mod evaluate;
pub mod groups;
pub mod preview;
pub mod replace;
pub mod rules;
pub mod server;
pub mod sets;

pub use assign::{AssignMode, AssignParams, ASSIGN};
pub use groups::FirewallService;
pub use model::firewall::{Rule, RuleInput, RuleType, SecurityGroup};
