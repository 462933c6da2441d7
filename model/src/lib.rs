//! The types that cross the wire, written once for the browser, the domain and both doors
//! (REST and server functions). Nothing here needs a server: this crate is compiled into the
//! WASM, and the browser build's dependency guard (`scripts/test.sh`) keeps it that way.
//!
//! - `servers`: a server, its status and actions, the list query and page, create requests
//!   (`servers::request`), create choices, settings, dashboard figures, a server's history;
//! - `backups`: backup volumes, the list's filters and totals, back-up requests;
//! - `firewall`: security groups, their rules, PVE's macros;
//! - `ipam`: IP pools;
//! - `auth`: permissions and roles, users, API tokens, the audit log;
//! - `jobs`: jobs, their items and log, notifications;
//! - `page`: one page of a list;
//! - `system`: what the instance says about itself;
//! - `error`: `Invalid` (a parse failure naming its field) and `AppError` (a failed call as the
//!   page receives it, with status and field);
//! - `limits`: how long user text may be.
//!
//! Rule of thumb: a type belongs here when a page or a REST answer shows it as is. Types the
//! domain only uses inside (job parameters, stores' rows, the checked `ServerSpec`) stay there.
//!
//! **Serialised whole, read back lean.** Every field is serialised (the REST answers are these
//! types), but fields marked `#[serde(skip_deserializing)]` are not read back: no page shows
//! them, and each field a page parses costs code in the WASM (the browser is the only place
//! these types are deserialised; the budget is in issue 13). A page that starts showing such
//! a field removes the mark; a default value on the page is the sign it was forgotten.

pub mod auth;
pub mod backups;
pub mod error;
pub mod firewall;
pub mod ipam;
pub mod jobs;
pub mod limits;
pub mod page;
pub mod servers;
pub mod system;

pub use error::{AppError, Invalid};
pub use page::Page;
