//! A rule as a caller sends it, checked the way pve-firewall checks it (its order, its
//! wording) before anything is sent, so bad input is a 400 naming the field as the caller
//! wrote it (`port` or `dport`) and Proxmox is never asked. What only Proxmox can know (that
//! an IP set or alias exists, a macro's own protocol) is left to it.

use std::net::IpAddr;

use model::firewall::{macro_named, Rule, RuleInput, RuleType, LOG_LEVELS};
use serde_json::json;

use crate::limits::shown;
use crate::{Error, Result};

/// A rule's fields once checked, in Proxmox's names.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckedRule {
    pub kind: RuleType,
    pub action: String,
    pub enable: bool,
    pub macro_name: Option<String>,
    pub proto: Option<String>,
    pub dport: Option<String>,
    pub sport: Option<String>,
    pub source: Option<String>,
    pub dest: Option<String>,
    pub iface: Option<String>,
    pub log: Option<String>,
    pub icmp_type: Option<String>,
    pub comment: Option<String>,
}

impl CheckedRule {
    /// A rule read from Proxmox, taken as it is (to copy it or put it back): not checked
    /// again, which could refuse a rule Proxmox holds and so lose it.
    pub fn read(r: &Rule) -> CheckedRule {
        CheckedRule {
            kind: r.kind,
            action: r.action.clone(),
            enable: r.enable,
            macro_name: r.macro_name.clone(),
            proto: r.proto.clone(),
            dport: r.dport.clone(),
            sport: r.sport.clone(),
            source: r.source.clone(),
            dest: r.dest.clone(),
            iface: r.iface.clone(),
            log: r.log.clone(),
            icmp_type: r.icmp_type.clone(),
            comment: r.comment.clone(),
        }
    }

    /// The request Proxmox gets; `was` (on an update) names the fields to clear.
    pub fn spec(&self, was: Option<&Rule>) -> pve::RuleSpec {
        let mut delete = Vec::new();
        if let Some(was) = was {
            let pairs: [(&str, bool, bool); 10] = [
                ("macro", was.macro_name.is_some(), self.macro_name.is_some()),
                ("proto", was.proto.is_some(), self.proto.is_some()),
                ("dport", was.dport.is_some(), self.dport.is_some()),
                ("sport", was.sport.is_some(), self.sport.is_some()),
                ("source", was.source.is_some(), self.source.is_some()),
                ("dest", was.dest.is_some(), self.dest.is_some()),
                ("iface", was.iface.is_some(), self.iface.is_some()),
                ("log", was.log.is_some(), self.log.is_some()),
                ("icmp-type", was.icmp_type.is_some(), self.icmp_type.is_some()),
                ("comment", was.comment.is_some(), self.comment.is_some()),
            ];
            delete = pairs.iter().filter(|(_, had, has)| *had && !*has).map(|(k, _, _)| (*k).to_owned()).collect();
        }
        pve::RuleSpec {
            kind: self.kind.as_str().to_owned(),
            action: self.action.clone(),
            enable: self.enable,
            macro_name: self.macro_name.clone(),
            proto: self.proto.clone(),
            dport: self.dport.clone(),
            sport: self.sport.clone(),
            source: self.source.clone(),
            dest: self.dest.clone(),
            iface: self.iface.clone(),
            log: self.log.clone(),
            icmp_type: self.icmp_type.clone(),
            comment: self.comment.clone(),
            delete,
        }
    }

    /// The rule as it will read back at `pos`.
    pub fn as_rule(&self, pos: u32) -> Rule {
        Rule {
            pos,
            kind: self.kind,
            action: self.action.clone(),
            enable: self.enable,
            macro_name: self.macro_name.clone(),
            proto: self.proto.clone(),
            dport: self.dport.clone(),
            sport: self.sport.clone(),
            source: self.source.clone(),
            dest: self.dest.clone(),
            iface: self.iface.clone(),
            log: self.log.clone(),
            icmp_type: self.icmp_type.clone(),
            comment: self.comment.clone(),
        }
    }
}

/// A field's value and the name the caller gave it.
struct Given {
    name: &'static str,
    value: Option<String>,
}

/// Our name or the old tool's, whichever was sent (both, if they differ, is an error).
fn either(
    errors: &mut Vec<(String, String)>,
    ours: (&'static str, &Option<String>),
    old: (&'static str, &Option<String>),
) -> Given {
    let clean = |v: &Option<String>| v.as_ref().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    match (clean(ours.1), clean(old.1)) {
        (Some(a), Some(b)) if a != b => {
            errors.push((ours.0.into(), format!("give {} or {}, not both with different values", ours.0, old.0)));
            Given { name: ours.0, value: Some(a) }
        }
        (Some(a), _) => Given { name: ours.0, value: Some(a) },
        (None, Some(b)) => Given { name: old.0, value: Some(b) },
        (None, None) => Given { name: if old.1.is_some() { old.0 } else { ours.0 }, value: None },
    }
}

/// Checks a new rule for a security group, or (`was` given) the change of one: fields not
/// sent keep their value, fields sent empty are cleared.
pub fn check(input: &RuleInput, was: Option<&Rule>) -> Result<CheckedRule> {
    let mut errors: Vec<(String, String)> = Vec::new();
    let keep = |new: Option<String>, old: Option<&String>, sent: bool| if sent { new } else { old.cloned() };
    let old = |f: fn(&Rule) -> Option<&String>| was.and_then(f);

    let kind = input.kind.or(was.map(|w| w.kind)).unwrap_or(RuleType::In);
    if kind == RuleType::Group {
        errors.push(("type".into(), "a security group holds in and out rules, not other groups".into()));
    }
    let action = match input.action.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
        Some(a) => match a.to_ascii_uppercase().as_str() {
            "ACCEPT" => "ACCEPT".to_owned(),
            "DROP" | "DENY" => "DROP".to_owned(),
            "REJECT" => "REJECT".to_owned(),
            _ => {
                errors.push(("action".into(), format!("{}: use ACCEPT, DROP or REJECT", shown(a))));
                String::new()
            }
        },
        None => match was {
            Some(w) => w.action.clone(),
            None => {
                errors.push(("action".into(), "action is required: ACCEPT, DROP or REJECT".into()));
                String::new()
            }
        },
    };
    let enable = input.enable.or(was.map(|w| w.enable)).unwrap_or(true);

    let proto_given = either(&mut errors, ("proto", &input.proto), ("protocol", &input.protocol));
    let dport_given = either(&mut errors, ("dport", &input.dport), ("port", &input.port));
    let source_given = either(&mut errors, ("source", &input.source), ("source_ip", &input.source_ip));
    let dest_given = either(&mut errors, ("dest", &input.dest), ("dest_ip", &input.dest_ip));
    let comment_given = either(&mut errors, ("comment", &input.comment), ("description", &input.description));
    let sent = |g: &Given, ours: &Option<String>, theirs: Option<&Option<String>>| {
        ours.is_some() || theirs.is_some_and(Option::is_some) || g.value.is_some()
    };

    // iface: a short interface name.
    let iface = keep(clean(&input.iface), old(|r| r.iface.as_ref()), input.iface.is_some());
    if let Some(i) = &iface {
        let mut chars = i.chars();
        let ok = i.chars().count() <= 20
            && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !ok {
            errors.push(("iface".into(), format!("{}: an interface name (letter first, at most 20)", shown(i))));
        }
    }

    let macro_name = match keep(clean(&input.macro_name), old(|r| r.macro_name.as_ref()), input.macro_name.is_some()) {
        Some(m) => match macro_named(&m) {
            Some(known) => Some(known.to_owned()),
            None => {
                errors.push(("macro".into(), format!("unknown macro {}", shown(&m))));
                None
            }
        },
        None => None,
    };

    let mut proto = keep(
        proto_given.value.clone().map(|p| p.to_ascii_lowercase()),
        old(|r| r.proto.as_ref()),
        sent(&proto_given, &input.proto, Some(&input.protocol)),
    );
    if let Some(p) = &proto {
        if !known_protocol(p) {
            errors.push((proto_given.name.into(), format!("unknown protocol {}", shown(p))));
        }
    }
    let dport =
        keep(dport_given.value.clone(), old(|r| r.dport.as_ref()), sent(&dport_given, &input.dport, Some(&input.port)));
    let sport = keep(clean(&input.sport), old(|r| r.sport.as_ref()), input.sport.is_some());
    // A port without a protocol: TCP, as the old tool assumed; with a macro Proxmox wants the
    // protocol named (the macro's own ports are used when none is given).
    if proto.is_none() && (dport.is_some() || sport.is_some()) {
        if macro_name.is_some() {
            // Named in the caller's vocabulary: the old tool's `port` goes with `protocol`.
            let field = if dport_given.name == "port" { "protocol" } else { proto_given.name };
            errors.push((
                field.into(),
                format!(
                    "give the protocol with a port, even with a macro (the macro {} brings its own ports)",
                    macro_name.clone().unwrap_or_default()
                ),
            ));
        } else {
            proto = Some("tcp".into());
        }
    }
    for (field, value) in [(dport_given.name, &dport), ("sport", &sport)] {
        let Some(v) = value else { continue };
        let p = proto.clone().unwrap_or_default();
        let is_icmp = ICMP_PROTOS.contains(&p.as_str());
        if !(PORT_PROTOS.contains(&p.as_str()) || field != "sport" && is_icmp) {
            errors.push((field.into(), format!("protocol '{p}' does not support ports")));
        } else if !is_icmp {
            if let Err(e) = check_ports(v) {
                errors.push((field.into(), e));
            }
        }
    }

    let icmp_type = keep(clean(&input.icmp_type), old(|r| r.icmp_type.as_ref()), input.icmp_type.is_some());
    if let Some(t) = &icmp_type {
        if !proto.as_deref().is_some_and(|p| ICMP_PROTOS.contains(&p)) {
            errors.push((proto_given.name.into(), "icmp-type needs protocol icmp or icmpv6".into()));
        } else if dport.is_some() {
            errors.push(("icmp-type".into(), "icmp-type cannot be given together with a port".into()));
        } else if !(t.len() <= 40 && t.chars().all(|c| c.is_ascii_lowercase() || c == '-')) {
            errors.push(("icmp-type".into(), format!("{}: an ICMP type name such as echo-request", shown(t))));
        }
    }

    let source = keep(
        source_given.value.clone(),
        old(|r| r.source.as_ref()),
        sent(&source_given, &input.source, Some(&input.source_ip)),
    );
    let dest =
        keep(dest_given.value.clone(), old(|r| r.dest.as_ref()), sent(&dest_given, &input.dest, Some(&input.dest_ip)));
    for (field, value) in [(source_given.name, &source), (dest_given.name, &dest)] {
        if let Some(v) = value {
            if let Err(e) = check_address(v) {
                errors.push((field.into(), e));
            }
        }
    }

    let log = keep(clean(&input.log).map(|l| l.to_ascii_lowercase()), old(|r| r.log.as_ref()), input.log.is_some());
    if let Some(l) = &log {
        if !LOG_LEVELS.contains(&l.as_str()) {
            errors.push(("log".into(), format!("{}: use one of {}", shown(l), LOG_LEVELS.join(", "))));
        }
    }

    let comment = keep(
        comment_given.value.clone(),
        old(|r| r.comment.as_ref()),
        sent(&comment_given, &input.comment, Some(&input.description)),
    );
    if let Some(c) = &comment {
        if c.chars().count() > COMMENT {
            errors.push((comment_given.name.into(), format!("at most {COMMENT} characters")));
        } else if c.chars().any(char::is_control) {
            errors.push((comment_given.name.into(), "one line of text (no line breaks or control characters)".into()));
        }
    }

    if let Some(first) = errors.first().cloned() {
        let details = (errors.len() > 1).then(
            || json!({"errors": errors.iter().map(|(f, m)| json!({"field": f, "message": m})).collect::<Vec<_>>()}),
        );
        return Err(Error::Validation {
            field: Some(first.0.clone()),
            message: format!("{}: {}", first.0, first.1),
            details,
        });
    }
    Ok(CheckedRule {
        kind,
        action,
        enable,
        macro_name,
        proto,
        dport,
        sport,
        source,
        dest,
        iface,
        log,
        icmp_type,
        comment,
    })
}

fn clean(v: &Option<String>) -> Option<String> {
    v.as_ref().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// A rule comment's length (one line of the group's file).
pub const COMMENT: usize = 512;
/// Protocols whose rules may name ports (by name or number).
const PORT_PROTOS: [&str; 10] = ["tcp", "udp", "udplite", "dccp", "sctp", "6", "17", "136", "33", "132"];
const ICMP_PROTOS: [&str; 3] = ["icmp", "icmpv6", "ipv6-icmp"];
/// Protocol names of Debian's `/etc/protocols` that firewall rules use, and `icmpv6`.
const PROTOCOLS: [&str; 27] = [
    "ip",
    "icmp",
    "igmp",
    "ggp",
    "ipencap",
    "st",
    "tcp",
    "egp",
    "igp",
    "pup",
    "udp",
    "hmp",
    "xns-idp",
    "rdp",
    "iso-tp4",
    "dccp",
    "xtp",
    "ddp",
    "idpr-cmtp",
    "ipv6",
    "ipv6-route",
    "ipv6-frag",
    "idrp",
    "rsvp",
    "gre",
    "esp",
    "ah",
];
const MORE_PROTOCOLS: [&str; 17] = [
    "skip",
    "ipv6-icmp",
    "icmpv6",
    "ipv6-nonxt",
    "ipv6-opts",
    "rspf",
    "vmtp",
    "eigrp",
    "ospf",
    "ax.25",
    "ipip",
    "etherip",
    "encap",
    "pim",
    "ipcomp",
    "vrrp",
    "l2tp",
];
const LAST_PROTOCOLS: [&str; 7] = ["isis", "sctp", "fc", "mobility-header", "udplite", "mpls-in-ip", "manet"];

fn known_protocol(p: &str) -> bool {
    p.parse::<u8>().is_ok()
        || PROTOCOLS.contains(&p)
        || MORE_PROTOCOLS.contains(&p)
        || LAST_PROTOCOLS.contains(&p)
        || ["hip", "shim6", "wesp", "rohc"].contains(&p)
}

/// pve-firewall's port list: `N`, `N:M` or a service name, comma separated, at most 15
/// numbers (a range counts two).
pub fn check_ports(list: &str) -> Result<(), String> {
    let mut numbers = 0;
    for part in list.split(',') {
        let part = part.trim();
        if part.is_empty() {
            return Err("extraneous commas in list".into());
        }
        let number = |s: &str| s.parse::<u16>().ok();
        if let Some((a, b)) = part.split_once(':') {
            match (number(a), number(b)) {
                (Some(x), Some(y)) if x > y => {
                    return Err(format!("backwards range '{part}' not allowed, did you mean '{b}:{a}'?"))
                }
                (Some(_), Some(_)) => numbers += 2,
                _ => return Err(format!("invalid port {}", shown(part))),
            }
        } else if number(part).is_some() {
            numbers += 1;
        } else if !(part.len() <= 32
            && part.starts_with(|c: char| c.is_ascii_alphabetic())
            && part.chars().all(|c| c.is_ascii_alphanumeric() || "-_".contains(c)))
        {
            return Err(format!("invalid port {}", shown(part)));
        }
    }
    if numbers > 15 {
        return Err("too many entries in port list (> 15 numbers)".into());
    }
    Ok(())
}

/// pve-firewall's address: `+ipset`, an alias, or a list of addresses and CIDRs (or one
/// range `a-b`), all of one IP version.
pub fn check_address(value: &str) -> Result<(), String> {
    if value.chars().count() > 512 {
        return Err("at most 512 characters".into());
    }
    let name_ok = |n: &str| {
        let n = n.strip_prefix("dc/").or_else(|| n.strip_prefix("guest/")).unwrap_or(n);
        let mut c = n.chars();
        (2..=64).contains(&n.chars().count())
            && c.next().is_some_and(|c| c.is_ascii_alphabetic())
            && c.all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
    };
    if let Some(set) = value.strip_prefix('+') {
        return if name_ok(set) { Ok(()) } else { Err(format!("invalid ipset name {}", shown(value))) };
    }
    if value.starts_with(|c: char| c.is_ascii_alphabetic()) && !value.contains([',', ':', '.']) {
        return if name_ok(value) { Ok(()) } else { Err(format!("invalid alias name {}", shown(value))) };
    }
    let mut versions = Vec::new();
    let parts: Vec<&str> = value.split(',').map(str::trim).collect();
    for part in &parts {
        if part.is_empty() {
            return Err("extraneous commas in list".into());
        }
        let ips: Vec<&str> = match part.split_once('-') {
            Some(_) if parts.len() > 1 => return Err("you can't use a range in a list".into()),
            Some((a, b)) => vec![a, b],
            None => vec![part.split_once('/').map_or(*part, |(ip, _)| ip)],
        };
        for ip in ips {
            let addr: IpAddr = ip.parse().map_err(|_| format!("invalid IP address {}", shown(part)))?;
            versions.push(addr.is_ipv4());
        }
        if let Some((ip, prefix)) = part.split_once('/') {
            let max = if ip.contains(':') { 128 } else { 32 };
            if !prefix.parse::<u8>().is_ok_and(|p| p <= max) {
                return Err(format!("invalid IP address {}", shown(part)));
            }
        }
    }
    if versions.windows(2).any(|w| w[0] != w[1]) {
        return Err(format!("detected mixed ipv4/ipv6 addresses in address list {}", shown(value)));
    }
    Ok(())
}

/// pve-firewall's group (and IP set) name rule: a letter, then letters, digits, `-` or `_`;
/// 2 to 18 characters. Names are kept in lower case: Proxmox lowers them when it re-reads its
/// file, so `Web` would stop being found after a restart of its firewall.
pub fn check_group_name(field: &str, name: &str) -> Result<String> {
    check_name(field, &name.trim().to_ascii_lowercase(), 18)
}

/// pve-firewall's name pattern (groups, IP sets, aliases): a letter, then letters, digits,
/// `-` or `_`; 2 to `max` characters. Returns the name trimmed.
pub fn check_name(field: &str, name: &str, max: usize) -> Result<String> {
    let n = name.trim();
    let mut chars = n.chars();
    let pattern = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !(2..=max).contains(&n.chars().count()) || !pattern {
        return Err(Error::validation(
            field,
            format!("{}: 2 to {max} characters, a letter first, then letters, digits, '-' or '_'", shown(name)),
        ));
    }
    Ok(n.to_owned())
}

/// A comment or description: one line (it is one line of Proxmox's file), at most `COMMENT`.
pub fn one_line(field: &str, v: &str) -> Result<()> {
    crate::limits::text(field, v, COMMENT)?;
    if v.chars().any(char::is_control) {
        return Err(Error::validation(field, "one line of text (no line breaks or control characters)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(v: serde_json::Value) -> RuleInput {
        serde_json::from_value(v).unwrap()
    }

    fn field_of(e: Error) -> String {
        match e {
            Error::Validation { field, .. } => field.unwrap_or_default(),
            other => panic!("not a validation error: {other}"),
        }
    }

    #[test]
    fn the_old_tools_rule_maps_to_proxmoxs_fields() {
        let r = check(
            &input(json!({"action": "deny", "protocol": "TCP", "port": 22, "source_ip": "10.0.0.0/8", "description": "ssh"})),
            None,
        )
        .unwrap();
        assert_eq!(
            (r.action.as_str(), r.proto.as_deref(), r.dport.as_deref(), r.source.as_deref(), r.comment.as_deref()),
            ("DROP", Some("tcp"), Some("22"), Some("10.0.0.0/8"), Some("ssh"))
        );
        assert!(r.enable, "created enabled, as the old tool's rules are meant to be");
        assert_eq!(r.kind, RuleType::In);
    }

    #[test]
    fn a_port_alone_means_tcp_but_a_macro_with_a_port_needs_the_protocol() {
        assert_eq!(
            check(&input(json!({"action": "ACCEPT", "dport": "80,443"})), None).unwrap().proto.as_deref(),
            Some("tcp")
        );
        let m = check(&input(json!({"action": "ACCEPT", "macro": "ssh"})), None).unwrap();
        assert_eq!((m.macro_name.as_deref(), m.proto), (Some("SSH"), None));
        assert_eq!(
            field_of(check(&input(json!({"action": "ACCEPT", "macro": "SSH", "port": 22})), None).unwrap_err()),
            "protocol"
        );
        assert_eq!(field_of(check(&input(json!({"action": "ACCEPT", "macro": "Redis"})), None).unwrap_err()), "macro");
    }

    #[test]
    fn errors_name_the_field_as_sent_and_list_them_all() {
        assert_eq!(field_of(check(&input(json!({"action": "ACCEPT", "port": "99999"})), None).unwrap_err()), "port");
        assert_eq!(
            field_of(check(&input(json!({"action": "ACCEPT", "dport": "22:10", "proto": "tcp"})), None).unwrap_err()),
            "dport"
        );
        assert_eq!(
            field_of(check(&input(json!({"action": "ACCEPT", "proto": "icmp", "sport": "1"})), None).unwrap_err()),
            "sport"
        );
        let e = check(&input(json!({"action": "maybe", "source_ip": "10.0.0.300", "log": "loud"})), None).unwrap_err();
        let Error::Validation { field, details, .. } = e else { panic!() };
        assert_eq!(field.as_deref(), Some("action"));
        let fields: Vec<String> = details.unwrap()["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(fields, ["action", "source_ip", "log"]);
        assert_eq!(
            field_of(check(&input(json!({"action": "ACCEPT", "comment": "a\nb"})), None).unwrap_err()),
            "comment"
        );
        assert_eq!(field_of(check(&input(json!({})), None).unwrap_err()), "action");
    }

    #[test]
    fn addresses_follow_pve_firewall() {
        for ok in
            ["10.0.0.1", "10.0.0.0/24,192.168.1.1", "10.0.0.1-10.0.0.9", "+mgmt", "+dc/mgmt", "office", "fd00::/8"]
        {
            assert!(check_address(ok).is_ok(), "{ok}");
        }
        for bad in ["10.0.0.0/33", "10.0.0.1,", "10.0.0.1-10.0.0.9,10.0.1.1", "10.0.0.1,fd00::1", "+x", "1.2.3"] {
            assert!(check_address(bad).is_err(), "{bad}");
        }
        assert!(check_ports("ssh,80,8000:8100").is_ok());
        assert!(check_ports(&(1..=16).map(|n| n.to_string()).collect::<Vec<_>>().join(",")).is_err());
    }

    #[test]
    fn an_update_keeps_what_is_not_sent_and_clears_what_is_sent_empty() {
        let was =
            check(&input(json!({"action": "ACCEPT", "dport": "22", "comment": "ssh", "source": "10.0.0.0/8"})), None)
                .unwrap()
                .as_rule(3);
        let changed = check(&input(json!({"enable": false, "source": ""})), Some(&was)).unwrap();
        assert_eq!((changed.enable, changed.dport.as_deref(), changed.source.as_deref()), (false, Some("22"), None));
        assert_eq!(changed.spec(Some(&was)).delete, ["source"]);
    }

    #[test]
    fn group_names_follow_proxmox_and_are_kept_in_lower_case() {
        assert_eq!(check_group_name("name", "Web-SG").unwrap(), "web-sg");
        for bad in ["w", "1web", "web sg", "a-name-far-too-long-x"] {
            assert!(check_group_name("name", bad).is_err(), "{bad}");
        }
    }
}
