//! Configuration from, in order of precedence: command-line flags, environment variables, an
//! optional TOML file (`--config FILE`), built-in defaults. Bad values stop start-up with a
//! message that names the setting; nothing here panics.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Parser, ValueEnum};
use serde::Deserialize;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/proxfleet.db";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:3000";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Readable lines for a terminal.
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

/// proxfleet: a console and REST API for virtual-machine fleets on Proxmox VE.
#[derive(Debug, Parser)]
#[command(name = "proxfleet", version, about, long_about = None)]
pub struct Cli {
    /// TOML file with any of the settings below (keys as the long flags, with '_' for '-').
    #[arg(long, value_name = "FILE", env = "PROXFLEET_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:3000].
    #[arg(long, value_name = "ADDR", env = "PROXFLEET_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// sqlite://PATH or postgres://USER@HOST/DB [default: sqlite://data/proxfleet.db].
    #[arg(long, value_name = "URL", env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Log output format [default: human].
    #[arg(long, value_enum, env = "PROXFLEET_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Log filter in tracing's syntax, e.g. "info" or "info,server=debug" [default: info].
    #[arg(long, value_name = "FILTER", env = "PROXFLEET_LOG")]
    pub log: Option<String>,
    /// Folder with the built site (WASM, JS, CSS, assets) [default: from Leptos.toml].
    #[arg(long, value_name = "DIR", env = "PROXFLEET_SITE_ROOT")]
    pub site_root: Option<PathBuf>,
    /// Proxmox VE API URL. Without it proxfleet runs against its built-in simulated cluster.
    #[arg(long, value_name = "URL", env = "PROXFLEET_PVE_URL")]
    pub pve_url: Option<String>,
    /// API token for --pve-url: USER@REALM!TOKENID=SECRET.
    #[arg(long, value_name = "TOKEN", env = "PROXFLEET_PVE_TOKEN", hide_env_values = true)]
    pub pve_token: Option<String>,
    /// Trust this CA (PEM) for the cluster's certificate, e.g. /etc/pve/pve-root-ca.pem.
    #[arg(long, value_name = "FILE", env = "PROXFLEET_PVE_CA_FILE")]
    pub pve_ca_file: Option<PathBuf>,
    /// Accept exactly the certificate with this SHA-256 fingerprint (AB:CD:…), as `pvenode
    /// cert info` shows it.
    #[arg(long, value_name = "SHA256", env = "PROXFLEET_PVE_FINGERPRINT")]
    pub pve_fingerprint: Option<String>,
    /// Do not verify the cluster's certificate at all (labs only; logged as a warning).
    #[arg(long, env = "PROXFLEET_PVE_INSECURE")]
    pub pve_insecure: bool,
    /// proxfleet sits behind a reverse proxy: take the client's address from the last
    /// X-Forwarded-For entry (for the login lockout and the audit log). Without a proxy, leave
    /// it off, or any client could pick its own address.
    #[arg(long, env = "PROXFLEET_BEHIND_PROXY")]
    pub behind_proxy: bool,
    /// Timing of the built-in simulated cluster (demo mode only): realistic (default),
    /// realistic:<factor>, fast or instant.
    #[arg(long, value_name = "PROFILE", env = "PROXFLEET_SIM_PROFILE")]
    pub sim_profile: Option<String>,
    /// Seconds between background syncs of the server records with Proxmox (one
    /// /cluster/resources call each) [default: 30].
    #[arg(long, value_name = "SECONDS", env = "PROXFLEET_SYNC_INTERVAL")]
    pub sync_interval: Option<u64>,
    /// How old (milliseconds) the shared /cluster/resources snapshot may be when a read is
    /// served from it; readers within that window share one call [default: 2000].
    #[arg(long, value_name = "MS", env = "PROXFLEET_CLUSTER_SNAPSHOT_MS")]
    pub cluster_snapshot_ms: Option<u64>,
}

/// The same settings as read from a TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    database_url: Option<String>,
    log_format: Option<LogFormat>,
    log: Option<String>,
    site_root: Option<PathBuf>,
    pve_url: Option<String>,
    pve_token: Option<String>,
    pve_ca_file: Option<PathBuf>,
    pve_fingerprint: Option<String>,
    pve_insecure: Option<bool>,
    behind_proxy: Option<bool>,
    sim_profile: Option<String>,
    sync_interval: Option<u64>,
    cluster_snapshot_ms: Option<u64>,
}

/// The resolved configuration the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub database_url: String,
    pub log_format: LogFormat,
    pub log: String,
    pub site_root: Option<PathBuf>,
    pub pve_url: Option<String>,
    /// Credentials and TLS for `pve_url` (its `Debug` never shows the secret).
    pub pve_auth: Option<pve::Auth>,
    pub pve_tls: pve::TlsMode,
    pub behind_proxy: bool,
    /// Timing of the built-in simulator (demo mode).
    pub sim_profile: pvesim::Profile,
    /// Between background syncs of the records with Proxmox.
    pub sync_interval: Duration,
    /// How old the shared cluster snapshot may be when served.
    pub cluster_snapshot_max_age: Duration,
    /// How long a job's claim outlives its instance's last heartbeat before another
    /// instance (or this one restarted) resumes the job. Not a setting: tests shorten it.
    pub job_lease: Duration,
}

pub const DEFAULT_SYNC_INTERVAL: Duration = Duration::from_secs(30);
pub const DEFAULT_JOB_LEASE: Duration = Duration::from_secs(30);
pub const MAX_CLUSTER_SNAPSHOT_MS: u64 = 10_000;

impl Config {
    /// Everything at its default, listening on `listen` with `database_url` (tests, benches).
    pub fn local(listen: SocketAddr, database_url: String) -> Config {
        Config {
            listen,
            database_url,
            log_format: LogFormat::Human,
            log: "warn".into(),
            site_root: None,
            pve_url: None,
            pve_auth: None,
            pve_tls: pve::TlsMode::System,
            behind_proxy: false,
            sim_profile: pvesim::Profile::Instant,
            sync_interval: DEFAULT_SYNC_INTERVAL,
            cluster_snapshot_max_age: domain::cluster::DEFAULT_MAX_AGE,
            job_lease: DEFAULT_JOB_LEASE,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("config file {path} is not valid: {message}")]
    Parse { path: String, message: String },
    #[error("invalid value for {setting}: {message}")]
    Invalid { setting: &'static str, message: String },
}

impl Config {
    pub fn resolve(cli: Cli) -> Result<Config, ConfigError> {
        let file = match &cli.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let listen = match (cli.listen, file.listen) {
            (Some(addr), _) => addr,
            (None, Some(text)) => text.parse().map_err(|e| ConfigError::Invalid {
                setting: "listen",
                message: format!("{text:?} is not an address like 127.0.0.1:3000 ({e})"),
            })?,
            (None, None) => std::env::var("LEPTOS_SITE_ADDR")
                .ok()
                .and_then(|a| a.parse().ok())
                .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 3000))),
        };
        let database_url = cli.database_url.or(file.database_url).unwrap_or_else(|| DEFAULT_DATABASE_URL.into());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(ConfigError::Invalid {
                setting: "DATABASE_URL",
                message: format!("{} must start with sqlite:// or postgres://", redact_url(&database_url)),
            });
        }
        let pve_url = cli.pve_url.or(file.pve_url);
        if let Some(url) = &pve_url {
            if !url.starts_with("https://") && !url.starts_with("http://") {
                return Err(ConfigError::Invalid {
                    setting: "PROXFLEET_PVE_URL",
                    message: format!("{url:?} must be an https:// URL"),
                });
            }
        }
        let pve_token = cli.pve_token.or(file.pve_token);
        let pve_auth = match (&pve_url, pve_token) {
            (None, _) => None,
            (Some(_), None) => {
                return Err(ConfigError::Invalid {
                    setting: "PROXFLEET_PVE_TOKEN",
                    message: "a Proxmox VE URL needs an API token (USER@REALM!TOKENID=SECRET)".into(),
                })
            }
            (Some(_), Some(t)) => Some(parse_pve_token(&t)?),
        };
        let fingerprint = cli.pve_fingerprint.or(file.pve_fingerprint);
        let ca_file = cli.pve_ca_file.or(file.pve_ca_file);
        let insecure = cli.pve_insecure || file.pve_insecure.unwrap_or(false);
        let pve_tls = match (fingerprint, ca_file, insecure) {
            (None, None, false) => pve::TlsMode::System,
            (Some(fp), None, false) => pve::TlsMode::Fingerprint(
                pve::tls::parse_fingerprint(&fp)
                    .map_err(|message| ConfigError::Invalid { setting: "PROXFLEET_PVE_FINGERPRINT", message })?,
            ),
            (None, Some(path), false) => pve::TlsMode::CaFile(path),
            (None, None, true) => pve::TlsMode::Insecure,
            _ => {
                return Err(ConfigError::Invalid {
                    setting: "PROXFLEET_PVE_FINGERPRINT",
                    message: "choose one of --pve-fingerprint, --pve-ca-file and --pve-insecure".into(),
                })
            }
        };
        Ok(Config {
            listen,
            database_url,
            log_format: cli.log_format.or(file.log_format).unwrap_or(LogFormat::Human),
            log: cli.log.or(file.log).unwrap_or_else(|| "info".into()),
            site_root: cli.site_root.or(file.site_root),
            pve_url,
            pve_auth,
            pve_tls,
            behind_proxy: cli.behind_proxy || file.behind_proxy.unwrap_or(false),
            sync_interval: match cli.sync_interval.or(file.sync_interval) {
                None => DEFAULT_SYNC_INTERVAL,
                Some(0) => {
                    return Err(ConfigError::Invalid {
                        setting: "sync_interval",
                        message: "must be at least 1 second".into(),
                    })
                }
                Some(secs) => Duration::from_secs(secs),
            },
            cluster_snapshot_max_age: match cli.cluster_snapshot_ms.or(file.cluster_snapshot_ms) {
                None => domain::cluster::DEFAULT_MAX_AGE,
                // Reads show the cluster as of the snapshot: minutes-old states would mislead.
                Some(ms) if ms > MAX_CLUSTER_SNAPSHOT_MS => {
                    return Err(ConfigError::Invalid {
                        setting: "cluster_snapshot_ms",
                        message: format!("{ms} is more than {MAX_CLUSTER_SNAPSHOT_MS} ms"),
                    })
                }
                Some(ms) => Duration::from_millis(ms),
            },
            job_lease: DEFAULT_JOB_LEASE,
            sim_profile: match cli.sim_profile.or(file.sim_profile) {
                None => pvesim::Profile::Realistic(1.0),
                Some(p) => pvesim::Profile::parse(&p)
                    .map_err(|message| ConfigError::Invalid { setting: "sim_profile", message })?,
            },
        })
    }

    /// Demo mode: no real cluster configured.
    pub fn simulated_cluster(&self) -> bool {
        self.pve_url.is_none()
    }
}

/// `USER@REALM!TOKENID=SECRET` (the secret after the last `=`, as PVE splits it).
fn parse_pve_token(text: &str) -> Result<pve::Auth, ConfigError> {
    let invalid = || ConfigError::Invalid {
        setting: "PROXFLEET_PVE_TOKEN",
        message: "expected USER@REALM!TOKENID=SECRET, e.g. root@pam!proxfleet=aaaaaaaa-…".into(),
    };
    let (id, secret) = text.trim().rsplit_once('=').ok_or_else(invalid)?;
    let (user, token_id) = id.split_once('!').ok_or_else(invalid)?;
    if !user.contains('@') || token_id.is_empty() || secret.is_empty() {
        return Err(invalid());
    }
    Ok(pve::Auth::Token { user: user.into(), token_id: token_id.into(), secret: secret.into() })
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
    toml::from_str(&text)
        .map_err(|e| ConfigError::Parse { path: path.display().to_string(), message: e.message().to_owned() })
}

/// The URL with any password replaced, safe for logs and error messages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let (authority, tail) = rest.split_once('/').map_or((rest, None), |(a, t)| (a, Some(t)));
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_owned(),
    };
    match tail {
        Some(t) => format!("{scheme}://{authority}/{t}"),
        None => format!("{scheme}://{authority}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Cli {
        let mut full = vec!["proxfleet"];
        full.extend_from_slice(args);
        Cli::parse_from(full)
    }

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(redact_url("postgres://pf:s3cret@db:5432/pf"), "postgres://pf:***@db:5432/pf");
        assert_eq!(redact_url("postgres://pf@db/pf"), "postgres://pf@db/pf");
        assert_eq!(redact_url("sqlite://data/p.db"), "sqlite://data/p.db");
    }

    #[test]
    fn flags_override_the_file_and_defaults_fill_the_rest() {
        let dir = std::env::temp_dir().join(format!("pf-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_default();
        let path = dir.join("a.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:4000\"\nlog_format = \"json\"\ndatabase_url = \"sqlite://x.db\"\n")
            .unwrap_or_default();
        let c = Config::resolve(cli(&["--config", path.to_str().unwrap_or(""), "--listen", "127.0.0.1:5000"]))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.listen.port(), 5000);
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.database_url, "sqlite://x.db");
        assert_eq!(c.log, "info");
        assert!(c.simulated_cluster());
        assert!(!c.behind_proxy, "X-Forwarded-For is not trusted unless asked");
        std::fs::write(&path, "behind_proxy = true\n").unwrap_or_default();
        let c = Config::resolve(cli(&["--config", path.to_str().unwrap_or("")])).unwrap_or_else(|e| panic!("{e}"));
        assert!(c.behind_proxy);
    }

    #[test]
    fn sync_interval_and_snapshot_age_default_and_can_be_set() {
        let c = Config::resolve(cli(&[])).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((c.sync_interval, c.cluster_snapshot_max_age), (Duration::from_secs(30), Duration::from_secs(2)));
        let c = Config::resolve(cli(&["--sync-interval", "5", "--cluster-snapshot-ms", "0"]))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((c.sync_interval, c.cluster_snapshot_max_age), (Duration::from_secs(5), Duration::ZERO));
        let err = Config::resolve(cli(&["--sync-interval", "0"])).err().map(|e| e.to_string());
        assert!(err.as_deref().is_some_and(|e| e.contains("sync_interval")), "{err:?}");
        let err = Config::resolve(cli(&["--cluster-snapshot-ms", "60000"])).err().map(|e| e.to_string());
        assert!(err.as_deref().is_some_and(|e| e.contains("cluster_snapshot_ms")), "{err:?}");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let dir = std::env::temp_dir().join(format!("pf-config-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_default();
        let path = dir.join("b.toml");
        std::fs::write(&path, "lisen = \"x\"\n").unwrap_or_default();
        let err = Config::resolve(cli(&["--config", path.to_str().unwrap_or("")])).err().map(|e| e.to_string());
        assert!(err.as_deref().is_some_and(|e| e.contains("lisen")), "{err:?}");

        std::fs::write(&path, "listen = \"nowhere\"\n").unwrap_or_default();
        let err = Config::resolve(cli(&["--config", path.to_str().unwrap_or("")])).err().map(|e| e.to_string());
        assert!(err.as_deref().is_some_and(|e| e.contains("listen")), "{err:?}");

        let err = Config::resolve(cli(&["--database-url", "mysql://u:pw@h/db"])).err().map(|e| e.to_string());
        assert!(err.as_deref().is_some_and(|e| e.contains("DATABASE_URL") && !e.contains("pw")), "{err:?}");

        let err = Config::resolve(cli(&["--pve-url", "https://pve:8006"])).err().map(|e| e.to_string());
        assert!(err.as_deref().is_some_and(|e| e.contains("PROXFLEET_PVE_TOKEN")), "{err:?}");
        let err = Config::resolve(cli(&[
            "--pve-url",
            "https://pve:8006",
            "--pve-token",
            "root@pam!x=s3cret",
            "--pve-fingerprint",
            "AB",
        ]))
        .err()
        .map(|e| e.to_string());
        assert!(err.as_deref().is_some_and(|e| e.contains("FINGERPRINT") && !e.contains("s3cret")), "{err:?}");
        let ok = Config::resolve(cli(&["--pve-url", "https://pve:8006", "--pve-token", "root@pam!x=s3cret"]))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!format!("{ok:?}").contains("s3cret"), "the token secret stays out of debug output");
        assert_eq!(ok.pve_tls, pve::TlsMode::System, "TLS is verified unless told otherwise");

        let err = Config::resolve(cli(&["--config", "/nonexistent/pf.toml"])).err().map(|e| e.to_string());
        assert!(err.as_deref().is_some_and(|e| e.contains("/nonexistent/pf.toml")), "{err:?}");
    }
}
