//! The `/api2/json` door: authentication (API tokens and tickets with CSRF), parameters from
//! the query string and form/JSON bodies, validation against the PVE 9.1 schema (400 with PVE's
//! messages), routing by the schema's path templates, and the `{"data":…}` envelope.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use serde_json::{json, Value};

use crate::error::SimError;
use crate::sim::{now_s, Sim};

/// Who may call the simulator.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// `user@realm!tokenid` → secret.
    pub tokens: HashMap<String, String>,
    /// `user@realm` → password, for `/access/ticket`.
    pub users: HashMap<String, String>,
}

#[derive(Clone)]
struct AppState {
    sim: Sim,
    /// `/cluster/resources`, serialised and gzipped once per (filter, state version, second):
    /// the inventory call every dashboard and sync makes must never be the bottleneck.
    resources: Arc<Mutex<HashMap<Option<String>, CachedBody>>>,
    access: Arc<Access>,
    /// ticket → who, CSRF token, when issued.
    tickets: Arc<Mutex<HashMap<String, TicketEntry>>>,
}

#[derive(Clone)]
struct CachedBody {
    version: u64,
    second: u64,
    plain: Bytes,
    gzip: Bytes,
}

struct TicketEntry {
    user: String,
    csrf: String,
    issued: u64,
}

const TICKET_LIFETIME_S: u64 = 2 * 60 * 60;

/// `/pvesim/faults`: read or replace the fault settings (same token as the API).
async fn faults(State(st): State<AppState>, method: Method, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(e) = authenticate(&st, &Method::GET, &headers) {
        return e.into_response();
    }
    if method == Method::PUT {
        let parsed: Result<crate::faults::Faults, _> = serde_json::from_slice(&body);
        match parsed.map_err(|e| e.to_string()).and_then(|f| st.sim.faults.set(f)) {
            Ok(()) => {}
            Err(e) => {
                return (StatusCode::BAD_REQUEST, axum::Json(json!({"data": null, "message": e}))).into_response()
            }
        }
    }
    let reads = st.sim.faults.reads.load(std::sync::atomic::Ordering::Relaxed);
    let writes = st.sim.faults.writes.load(std::sync::atomic::Ordering::Relaxed);
    let calls = st.sim.faults.all_calls();
    axum::Json(json!({"data": st.sim.faults.get(), "received": {"reads": reads, "writes": writes, "calls": calls}}))
        .into_response()
}

pub fn router(sim: Sim, access: Access) -> Router {
    let state = AppState {
        sim,
        resources: Arc::new(Mutex::new(HashMap::new())),
        access: Arc::new(access),
        tickets: Arc::new(Mutex::new(HashMap::new())),
    };
    Router::new()
        .route("/api2/json/{*path}", any(handle))
        .route("/pvesim/faults", axum::routing::get(faults).put(faults))
        .with_state(state)
}

fn decode(seg: &str) -> String {
    let b = seg.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| char::from(c).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The schema template a concrete path is an instance of, with its path parameters.
fn route(method: &str, path: &str) -> Option<(&'static str, BTreeMap<String, String>)> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    for key in pve_schema::contract::schema().keys() {
        let Some((m, template)) = key.split_once(' ') else { continue };
        if m != method {
            continue;
        }
        let tsegs: Vec<&str> = template.trim_matches('/').split('/').collect();
        if tsegs.len() != segs.len() {
            continue;
        }
        let mut params = BTreeMap::new();
        let matched =
            tsegs.iter().zip(&segs).all(|(t, s)| match t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                Some(name) => {
                    params.insert(name.to_owned(), decode(s));
                    !s.is_empty()
                }
                None => t == s,
            });
        if matched {
            return Some((template, params));
        }
    }
    None
}

async fn handle(State(st): State<AppState>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let faults = st.sim.faults.get();
    if faults.latency_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(faults.latency_ms)).await;
    }
    let write = method != Method::GET;
    let path = uri.path().strip_prefix("/api2/json").unwrap_or(uri.path());
    st.sim.faults.count(method.as_str(), path);
    let node = path.strip_prefix("/nodes/").and_then(|r| r.split('/').next()).unwrap_or("");
    if !node.is_empty() && st.sim.faults.node_down(node) {
        let msg = format!("Connection refused: proxy to node '{node}' failed");
        return SimError::status(595, msg).into_response();
    }
    if !write && st.sim.faults.hit(|f| f.read_error_rate) {
        return SimError::status(503, "simulated unavailability (fault injection)").into_response();
    }
    if write && st.sim.faults.hit(|f| f.write_error_rate) {
        return SimError::die("simulated failure (fault injection)").into_response();
    }
    if write && st.sim.faults.hit(|f| f.busy_write_rate) {
        return busy(&st, path).into_response();
    }
    let lose_answer = write && st.sim.faults.loses_answer(path);
    let answer = answer(&st, &method, &uri, &headers, &body);
    if lose_answer && answer.status().is_success() {
        // Done, but the caller never hears so.
        return SimError::status(596, "Connection timed out").into_response();
    }
    answer
}

/// A write turned away by a busy cluster, nothing done: alternately pveproxy restarting (503)
/// and a guest's config lock not obtained in time.
fn busy(st: &AppState, path: &str) -> SimError {
    if st.sim.faults.busy_turn() {
        return SimError::status(503, "Service Unavailable");
    }
    let vmid = path.split("/qemu/").nth(1).and_then(|r| r.split('/').next()).unwrap_or("0");
    SimError::die(format!("can't lock file '/var/lock/qemu-server/lock-{vmid}.conf' - got timeout"))
}

/// The answer to a call that got past the faults.
fn answer(st: &AppState, method: &Method, uri: &Uri, headers: &HeaderMap, body: &Bytes) -> Response {
    let gzip_ok =
        headers.get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("gzip"));
    match handle_inner(st, method, uri, headers, body) {
        Ok(Answer::Data(data, extra)) => {
            let mut envelope = json!({ "data": data });
            if let Some((k, v)) = extra {
                envelope[k] = v;
            }
            let plain = Bytes::from(serde_json::to_vec(&envelope).unwrap_or_default());
            // Like pveproxy: bodies over 1 KiB are compressed when the client accepts it.
            if gzip_ok && plain.len() > 1024 {
                json_response(gzip(&plain), true)
            } else {
                json_response(plain, false)
            }
        }
        Ok(Answer::Cached(body)) => {
            if gzip_ok {
                json_response(body.gzip, true)
            } else {
                json_response(body.plain, false)
            }
        }
        Err(e) => e.into_response(),
    }
}

fn json_response(body: Bytes, gzipped: bool) -> Response {
    let mut res = (StatusCode::OK, [(header::CONTENT_TYPE, "application/json;charset=UTF-8")], body).into_response();
    if gzipped {
        res.headers_mut().insert(header::CONTENT_ENCODING, axum::http::HeaderValue::from_static("gzip"));
    }
    res
}

fn gzip(bytes: &[u8]) -> Bytes {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = enc.write_all(bytes);
    Bytes::from(enc.finish().unwrap_or_default())
}

/// `/cluster/resources` from the cache, rebuilt when the state changed or a second passed
/// (uptime and usage figures move with the clock).
fn cached_resources(st: &AppState, kind: Option<&String>) -> CachedBody {
    let (version, second) = (st.sim.version(), now_s());
    let mut cache = st.resources.lock().unwrap_or_else(|p| p.into_inner());
    let key = kind.cloned();
    if let Some(c) = cache.get(&key).filter(|c| c.version == version && c.second == second) {
        return c.clone();
    }
    let plain = Bytes::from(
        serde_json::to_vec(&json!({ "data": st.sim.resources(kind.map(String::as_str)) })).unwrap_or_default(),
    );
    let body = CachedBody { version, second, gzip: gzip(&plain), plain };
    cache.insert(key, body.clone());
    body
}

enum Answer {
    Data(Value, Extra),
    Cached(CachedBody),
}

type Extra = Option<(&'static str, Value)>;

fn handle_inner(
    st: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Answer, SimError> {
    let path = uri.path().strip_prefix("/api2/json").unwrap_or(uri.path());
    let m = method.as_str();
    let Some((template, path_params)) = route(m, path) else {
        return Err(SimError::not_implemented(m, path));
    };
    let mut params = BTreeMap::new();
    if matches!(*method, Method::GET | Method::DELETE) {
        if !body.is_empty() {
            return Err(SimError {
                status: StatusCode::NOT_IMPLEMENTED,
                message: format!("Unexpected content for method '{m}'"),
                errors: BTreeMap::new(),
            });
        }
    } else {
        params.extend(body_params(headers, body)?);
    }
    if let Some(q) = uri.query() {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(q).unwrap_or_default();
        params.extend(pairs);
    }
    params.extend(path_params);

    if template == "/access/ticket" {
        return ticket(st, &params).map(|v| Answer::Data(v, None));
    }
    let user = authenticate(st, method, headers)?;

    let wire = pve_schema::Params(params.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
    if let Err(errors) = pve_schema::contract::check_params(m, template, &wire) {
        return Err(SimError::params(errors));
    }
    let sim = &st.sim;
    let p = &params;
    let data = match (m, template) {
        ("GET", "/version") => json!({"version": "9.1.1", "release": "9.1", "repoid": "pvesim01"}),
        ("GET", "/nodes") => sim.nodes(),
        ("GET", "/nodes/{node}/status") => sim.node_status(p)?,
        ("GET", "/cluster/resources") => return Ok(Answer::Cached(cached_resources(st, p.get("type")))),
        ("GET", "/cluster/nextid") => sim.next_id(p)?,
        ("GET", "/nodes/{node}/qemu") => sim.vm_list(p)?,
        ("GET", "/nodes/{node}/qemu/{vmid}/status/current") => sim.status_current(p)?,
        ("POST", "/nodes/{node}/qemu/{vmid}/status/start") => sim.power(p, "start", &user)?,
        ("POST", "/nodes/{node}/qemu/{vmid}/status/stop") => sim.power(p, "stop", &user)?,
        ("POST", "/nodes/{node}/qemu/{vmid}/status/shutdown") => sim.power(p, "shutdown", &user)?,
        ("POST", "/nodes/{node}/qemu/{vmid}/status/reboot") => sim.power(p, "reboot", &user)?,
        ("POST", "/nodes/{node}/qemu/{vmid}/status/reset") => sim.power(p, "reset", &user)?,
        ("POST", "/nodes/{node}/qemu/{vmid}/clone") => sim.clone_vm(p, &user)?,
        ("GET", "/nodes/{node}/qemu/{vmid}/config") => sim.config_get(p)?,
        ("PUT", "/nodes/{node}/qemu/{vmid}/config") => sim.config_set(p, false, &user)?,
        ("POST", "/nodes/{node}/qemu/{vmid}/config") => sim.config_set(p, true, &user)?,
        ("PUT", "/nodes/{node}/qemu/{vmid}/resize") => sim.resize(p, &user)?,
        ("DELETE", "/nodes/{node}/qemu/{vmid}") => sim.destroy(p, &user)?,
        ("POST", "/nodes/{node}/qemu/{vmid}/template") => sim.template(p, &user)?,
        ("GET", "/nodes/{node}/qemu/{vmid}/agent/network-get-interfaces") => sim.agent_interfaces(p)?,
        ("GET", "/nodes/{node}/qemu/{vmid}/rrddata") => sim.rrddata(p)?,
        ("GET", "/nodes/{node}/tasks") => {
            let (list, total) = sim.node_tasks(p)?;
            return Ok(Answer::Data(list, Some(("total", json!(total)))));
        }
        ("GET", "/nodes/{node}/tasks/{upid}/status") => sim.task_status(p)?,
        ("GET", "/nodes/{node}/tasks/{upid}/log") => {
            let (lines, total) = sim.task_log(p)?;
            return Ok(Answer::Data(lines, Some(("total", json!(total)))));
        }
        ("DELETE", "/nodes/{node}/tasks/{upid}") => {
            sim.stop_task(&p["upid"])?;
            Value::Null
        }
        ("GET", "/cluster/firewall/groups") => sim.fw_groups(),
        ("GET", "/cluster/firewall/options") => sim.fw_cluster_options(),
        ("GET", "/cluster/firewall/refs") => sim.fw_refs(p),
        ("GET", "/cluster/firewall/ipset") => sim.ipsets(),
        ("POST", "/cluster/firewall/ipset") => sim.ipset_create(p)?,
        ("GET", "/cluster/firewall/ipset/{name}") => sim.ipset_entries(p)?,
        ("POST", "/cluster/firewall/ipset/{name}") => sim.ipset_add(p)?,
        ("DELETE", "/cluster/firewall/ipset/{name}") => sim.ipset_delete(p)?,
        ("DELETE", "/cluster/firewall/ipset/{name}/{cidr}") => sim.ipset_remove(p)?,
        ("GET", "/cluster/firewall/aliases") => sim.aliases(),
        ("POST", "/cluster/firewall/aliases") => sim.alias_create(p)?,
        ("PUT", "/cluster/firewall/aliases/{name}") => sim.alias_update(p)?,
        ("DELETE", "/cluster/firewall/aliases/{name}") => sim.alias_delete(p)?,
        ("POST", "/cluster/firewall/groups") => sim.fw_group_create(p)?,
        ("DELETE", "/cluster/firewall/groups/{group}") => sim.fw_group_delete(p)?,
        ("GET", "/cluster/firewall/groups/{group}") | ("GET", "/nodes/{node}/qemu/{vmid}/firewall/rules") => {
            sim.fw_rules(p)?
        }
        ("POST", "/cluster/firewall/groups/{group}") | ("POST", "/nodes/{node}/qemu/{vmid}/firewall/rules") => {
            sim.fw_rule_add(p)?
        }
        ("GET", "/cluster/firewall/groups/{group}/{pos}")
        | ("GET", "/nodes/{node}/qemu/{vmid}/firewall/rules/{pos}") => sim.fw_rule(p)?,
        ("PUT", "/cluster/firewall/groups/{group}/{pos}")
        | ("PUT", "/nodes/{node}/qemu/{vmid}/firewall/rules/{pos}") => sim.fw_rule_update(p)?,
        ("DELETE", "/cluster/firewall/groups/{group}/{pos}")
        | ("DELETE", "/nodes/{node}/qemu/{vmid}/firewall/rules/{pos}") => sim.fw_rule_delete(p)?,
        ("GET", "/nodes/{node}/qemu/{vmid}/firewall/options") => sim.fw_options(p)?,
        ("PUT", "/nodes/{node}/qemu/{vmid}/firewall/options") => sim.fw_options_set(p)?,
        ("GET", "/nodes/{node}/storage") => sim.storages(p)?,
        ("GET", "/nodes/{node}/storage/{storage}/status") => sim.storage_status(p)?,
        ("GET", "/nodes/{node}/storage/{storage}/content") => sim.storage_content(p)?,
        ("DELETE", "/nodes/{node}/storage/{storage}/content/{volume}") => sim.delete_volume(p, &user)?,
        ("POST", "/nodes/{node}/vzdump") => sim.vzdump(p, &user)?,
        ("GET", "/nodes/{node}/storage/{storage}/content/{volume}") => sim.volume_get(p)?,
        ("PUT", "/nodes/{node}/storage/{storage}/content/{volume}") => sim.volume_set(p)?,
        ("GET", "/nodes/{node}/storage/{storage}/prunebackups") => sim.prune_backups(p, None)?,
        ("DELETE", "/nodes/{node}/storage/{storage}/prunebackups") => sim.prune_backups(p, Some(&user))?,
        ("GET", "/nodes/{node}/vzdump/extractconfig") => sim.extract_config(p)?,
        ("GET", "/cluster/backup") => sim.cluster_backup_jobs(),
        ("POST", "/nodes/{node}/qemu") => sim.restore(p, &user)?,
        // In the schema subset, not simulated yet: say so the way PVE does for unknown calls.
        _ => return Err(SimError::not_implemented(m, path)),
    };
    Ok(Answer::Data(data, None))
}

fn body_params(headers: &HeaderMap, body: &Bytes) -> Result<BTreeMap<String, String>, SimError> {
    if body.is_empty() {
        return Ok(BTreeMap::new());
    }
    let ct =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/x-www-form-urlencoded");
    if ct.starts_with("application/json") {
        let v: Value =
            serde_json::from_slice(body).map_err(|e| SimError::param("(body)", format!("invalid JSON: {e}")))?;
        let Value::Object(map) = v else { return Err(SimError::param("(body)", "JSON body must be an object")) };
        // JSON bodies may use real booleans; everything reaches the schema check as text.
        Ok(map
            .into_iter()
            .map(|(k, v)| {
                let text = match v {
                    Value::String(s) => s,
                    Value::Bool(b) => {
                        if b {
                            "1".into()
                        } else {
                            "0".into()
                        }
                    }
                    other => other.to_string(),
                };
                (k, text)
            })
            .collect())
    } else {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|e| SimError::param("(body)", format!("invalid form body: {e}")))?;
        Ok(pairs.into_iter().collect())
    }
}

/// The caller's user id, or 401 as pveproxy answers (empty body).
fn authenticate(st: &AppState, method: &Method, headers: &HeaderMap) -> Result<String, SimError> {
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("");
    if let Some(rest) = auth.trim().strip_prefix("PVEAPIToken").map(|r| r.trim_start_matches(['=', ' '])) {
        // Token id and secret split at the last '=' (AccessControl.pm verify_token).
        let (id, secret) = rest.rsplit_once('=').ok_or_else(|| SimError::unauthorized("Authentication failed!"))?;
        return match st.access.tokens.get(id) {
            Some(s) if s == secret => Ok(id.to_owned()),
            _ => Err(SimError::unauthorized("Authentication failed!")),
        };
    }
    let cookie_ticket = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix("PVEAuthCookie="))
        .map(decode)
        .or_else(|| auth.strip_prefix("PVEAuthCookie=").map(decode));
    let Some(ticket) = cookie_ticket else { return Err(SimError::unauthorized("No ticket")) };
    let tickets = st.tickets.lock().unwrap_or_else(|p| p.into_inner());
    let Some(TicketEntry { user, csrf, issued }) = tickets.get(&ticket) else {
        return Err(SimError::unauthorized("Authentication failed!"));
    };
    if now_s() - issued > TICKET_LIFETIME_S {
        return Err(SimError::unauthorized("Authentication failed!"));
    }
    if *method != Method::GET {
        let sent = headers.get("CSRFPreventionToken").and_then(|v| v.to_str().ok());
        if sent != Some(csrf.as_str()) {
            return Err(SimError::unauthorized("Permission denied - invalid csrf token"));
        }
    }
    Ok(user.clone())
}

/// `POST /access/ticket`: a password, or a still-valid ticket (renewal).
fn ticket(st: &AppState, p: &BTreeMap<String, String>) -> Result<Value, SimError> {
    let mut username = p.get("username").cloned().unwrap_or_default();
    if let Some(realm) = p.get("realm") {
        if !username.contains('@') {
            username = format!("{username}@{realm}");
        }
    }
    let password = p.get("password").cloned().unwrap_or_default();
    let mut tickets = st.tickets.lock().unwrap_or_else(|pp| pp.into_inner());
    let renewing =
        tickets.get(&password).is_some_and(|t| t.user == username && now_s() - t.issued <= TICKET_LIFETIME_S);
    let ok = renewing || st.access.users.get(&username).is_some_and(|pw| *pw == password);
    if !ok {
        return Err(SimError::unauthorized("authentication failure"));
    }
    let now = now_s();
    let mut sim_rng = st.sim.lock();
    let sig = format!("{:016x}{:016x}", sim_rng.rng.next_u64(), sim_rng.rng.next_u64());
    drop(sim_rng);
    let ticket = format!("PVE:{username}:{now:08X}::{sig}");
    let csrf = format!("{now:08X}:{}", &sig[..16]);
    tickets.insert(ticket.clone(), TicketEntry { user: username.clone(), csrf: csrf.clone(), issued: now });
    st.sim.faults.tickets.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if renewing {
        st.sim.faults.renewals.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    Ok(json!({"username": username, "ticket": ticket, "CSRFPreventionToken": csrf, "clustername": "pvesim", "cap": {}}))
}
