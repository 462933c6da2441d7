//! The firewall as Proxmox would enforce it on one VM, and what it does to one kind of packet.
//!
//! pve-firewall builds a VM's inbound chain from the VM's enabled rules in order, a
//! `type=group` rule standing for the group's enabled rules of that direction, a macro for
//! one rule per entry of its table; the first rule that matches decides, and the VM's policy
//! decides what none matches. `effective` writes that chain out; `reach` walks it for inbound
//! tcp to one port from a set of sources (the management sources) and says whether all of
//! them get in, some, or none. A rule that matches only part of the sources (a narrower
//! source, a `dest`, an interface, a source port) decides only for part of them, so the walk
//! goes on; that is what makes "dropped for some management sources" answerable.

use std::collections::BTreeMap;
use std::net::IpAddr;

use model::firewall::macros::MACRO_DEFS;
use model::firewall::preview::{DiffLine, EffectiveRule};
use model::firewall::{Rule, RuleType};

/// Every group's rules, by name.
pub type Groups = BTreeMap<String, Vec<Rule>>;

/// The VM's rules written out: inbound (policy last), then outbound (policy last). Disabled
/// rules, forward rules and rules naming a group that does not exist are not enforced and not
/// listed.
pub fn effective(vm_rules: &[Rule], groups: &Groups, policy_in: &str, policy_out: &str) -> Vec<EffectiveRule> {
    let mut out = Vec::new();
    for (kind, policy) in [(RuleType::In, policy_in), (RuleType::Out, policy_out)] {
        for r in vm_rules.iter().filter(|r| r.enable) {
            if r.kind == RuleType::Group {
                let Some(list) = groups.get(&r.action) else { continue };
                for g in list.iter().filter(|g| g.enable && g.kind == kind) {
                    expand(g, &format!("group {}, rule {}", r.action, g.pos), &mut out);
                }
            } else if r.kind == kind {
                expand(r, &format!("server rule {}", r.pos), &mut out);
            }
        }
        out.push(EffectiveRule { kind, action: policy.to_owned(), origin: "policy".into(), ..Default::default() });
    }
    out
}

/// One rule, or one per entry of its macro (the entry's proto and ports, the rule's others).
fn expand(r: &Rule, origin: &str, out: &mut Vec<EffectiveRule>) {
    let base = EffectiveRule {
        kind: r.kind,
        action: r.action.clone(),
        proto: r.proto.clone(),
        dport: r.dport.clone(),
        sport: r.sport.clone(),
        source: r.source.clone(),
        dest: r.dest.clone(),
        iface: r.iface.clone(),
        origin: origin.to_owned(),
    };
    let def = r.macro_name.as_deref().and_then(|m| MACRO_DEFS.iter().find(|d| d.name.eq_ignore_ascii_case(m)));
    let Some(def) = def else {
        out.push(base);
        return;
    };
    let or = |fixed: &str, own: &Option<String>| if fixed.is_empty() { own.clone() } else { Some(fixed.to_owned()) };
    for e in def.entries {
        out.push(EffectiveRule {
            proto: or(e.proto, &r.proto),
            dport: or(e.dport, &r.dport),
            sport: or(e.sport, &r.sport),
            origin: format!("{origin} ({})", def.name),
            ..base.clone()
        });
    }
}

/// The cluster's IP sets (entries with their `nomatch`) and aliases, to resolve `+set` and
/// alias names in a rule's source.
#[derive(Debug, Clone, Default)]
pub struct Names {
    pub ipsets: BTreeMap<String, Vec<(String, bool)>>,
    pub aliases: BTreeMap<String, String>,
}

/// An inclusive range of addresses of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Net {
    v6: bool,
    lo: u128,
    hi: u128,
}

fn bits(ip: IpAddr) -> (bool, u128) {
    match ip {
        IpAddr::V4(a) => (false, u128::from(u32::from(a))),
        IpAddr::V6(a) => (true, u128::from(a)),
    }
}

/// `a.b.c.d`, `a.b.c.d/n`, `a-b` (and the IPv6 forms).
pub fn parse_net(s: &str) -> Option<Net> {
    let s = s.trim();
    if let Some((a, b)) = s.split_once('-') {
        let ((v6a, lo), (v6b, hi)) = (bits(a.trim().parse().ok()?), bits(b.trim().parse().ok()?));
        return (v6a == v6b && lo <= hi).then_some(Net { v6: v6a, lo, hi });
    }
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l.parse::<u32>().ok()?)),
        None => (s, None),
    };
    let (v6, x) = bits(addr.parse().ok()?);
    let width = if v6 { 128 } else { 32 };
    let len = len.unwrap_or(width);
    if len > width {
        return None;
    }
    // The host bits: the low `width - len` ones.
    let host = if len == width { 0 } else { u128::MAX >> (128 - (width - len)) };
    Some(Net { v6, lo: x & !host, hi: x | host })
}

impl Names {
    /// A rule's address field as ranges, and whether they are exact (an IP set with
    /// `nomatch` entries, or a name that cannot be resolved, is not). `None`: no such name.
    fn resolve(&self, field: &str) -> (Vec<Net>, bool) {
        let mut nets = Vec::new();
        let mut exact = true;
        for item in field.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            if let Some(set) = item.strip_prefix('+') {
                let set = set.trim_start_matches("dc/");
                match self.ipsets.get(set).or_else(|| self.ipsets.get(&set.to_ascii_lowercase())) {
                    Some(entries) => {
                        for (cidr, nomatch) in entries {
                            if *nomatch {
                                exact = false;
                            } else {
                                nets.extend(self.one(cidr, &mut exact));
                            }
                        }
                    }
                    None => exact = false,
                }
            } else {
                nets.extend(self.one(item, &mut exact));
            }
        }
        (nets, exact)
    }

    fn one(&self, item: &str, exact: &mut bool) -> Option<Net> {
        let net = parse_net(item).or_else(|| {
            let name = item.trim_start_matches("dc/");
            let cidr = self.aliases.get(name).or_else(|| self.aliases.get(&name.to_ascii_lowercase()))?;
            parse_net(cidr)
        });
        if net.is_none() {
            *exact = false;
        }
        net
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Cover {
    None,
    Part,
    All,
}

/// How much of `wanted` the ranges `have` cover.
fn cover(wanted: &[Net], have: &[Net], exact: bool) -> Cover {
    let mut merged: Vec<Net> = have.to_vec();
    merged.sort();
    let mut union: Vec<Net> = Vec::new();
    for n in merged {
        match union.last_mut() {
            Some(last) if last.v6 == n.v6 && n.lo <= last.hi.saturating_add(1) => last.hi = last.hi.max(n.hi),
            _ => union.push(n),
        }
    }
    let inside = |w: &Net| union.iter().any(|u| u.v6 == w.v6 && u.lo <= w.lo && w.hi <= u.hi);
    let touches = |w: &Net| union.iter().any(|u| u.v6 == w.v6 && u.lo <= w.hi && w.lo <= u.hi);
    if wanted.iter().all(inside) && exact {
        Cover::All
    } else if wanted.iter().any(touches) {
        Cover::Part
    } else {
        Cover::None
    }
}

/// Whether a port list (`22`, `80,443`, `6000:6100`, a service name) includes `port`.
fn has_port(list: &str, port: u16) -> bool {
    const NAMES: [(&str, u16); 4] = [("ssh", 22), ("http", 80), ("https", 443), ("domain", 53)];
    list.split(',').map(str::trim).any(|p| match p.split_once(':') {
        Some((a, b)) => a.parse::<u16>().is_ok_and(|a| a <= port) && b.parse::<u16>().is_ok_and(|b| port <= b),
        None => p
            .parse::<u16>()
            .map_or_else(|_| NAMES.iter().any(|(n, v)| *v == port && n.eq_ignore_ascii_case(p)), |n| n == port),
    })
}

/// What the inbound chain does to tcp to `port` from `sources`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// All of them get in.
    Accepted,
    /// Some are dropped or rejected, first by this rule (its origin).
    Partly(String),
    /// All of them are dropped or rejected, by this rule.
    Dropped(String),
}

/// Walks the inbound rules of `chain` (policy last, as `effective` writes it).
pub fn reach(chain: &[EffectiveRule], port: u16, sources: &[Net], names: &Names) -> Reach {
    let mut some_in = false;
    let mut first_drop: Option<String> = None;
    for r in chain.iter().filter(|r| r.kind == RuleType::In) {
        if !r.proto.as_deref().is_none_or(|p| p.eq_ignore_ascii_case("tcp") || p == "6") {
            continue;
        }
        if !r.dport.as_deref().is_none_or(|d| has_port(d, port)) {
            continue;
        }
        let mut c = match r.source.as_deref() {
            None => Cover::All,
            Some(s) => {
                let (nets, exact) = names.resolve(s);
                cover(sources, &nets, exact)
            }
        };
        // A rule that also asks for a destination, an interface or a source port matches
        // only some of this traffic.
        if r.dest.is_some() || r.iface.is_some() || r.sport.is_some() {
            c = c.min(Cover::Part);
        }
        let accepts = r.action.eq_ignore_ascii_case("ACCEPT");
        match (c, accepts) {
            (Cover::None, _) => {}
            (Cover::Part, true) => some_in = true,
            (Cover::Part, false) => {
                first_drop.get_or_insert_with(|| r.origin.clone());
            }
            (Cover::All, true) => return first_drop.map_or(Reach::Accepted, Reach::Partly),
            (Cover::All, false) => {
                return match first_drop {
                    Some(o) => Reach::Partly(o),
                    None if some_in => Reach::Partly(r.origin.clone()),
                    None => Reach::Dropped(r.origin.clone()),
                };
            }
        }
    }
    // Only a chain without its policy gets here: nothing decides, the packet goes on.
    first_drop.map_or(Reach::Accepted, Reach::Partly)
}

/// The rules enforced after and not before (`+`), and before and not after (`-`), in chain
/// order; two rules are the same when they read the same, wherever they come from.
pub fn diff(before: &[EffectiveRule], after: &[EffectiveRule]) -> Vec<DiffLine> {
    let a: Vec<String> = before.iter().map(EffectiveRule::text).collect();
    let b: Vec<String> = after.iter().map(EffectiveRule::text).collect();
    let (n, m) = (a.len(), b.len());
    // Longest common subsequence, from the back.
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push(DiffLine { op: '+', rule: after[j].clone() });
            j += 1;
        } else {
            out.push(DiffLine { op: '-', rule: before[i].clone() });
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(pos: u32, kind: RuleType, action: &str) -> Rule {
        Rule { pos, kind, action: action.into(), enable: true, ..Default::default() }
    }

    fn any() -> Vec<Net> {
        vec![parse_net("0.0.0.0/0").unwrap(), parse_net("::/0").unwrap()]
    }

    fn groups(list: &[(&str, Vec<Rule>)]) -> Groups {
        list.iter().map(|(n, r)| ((*n).to_owned(), r.clone())).collect()
    }

    #[test]
    fn groups_and_macros_are_written_out_in_place_policy_last() {
        let ssh = Rule { macro_name: Some("SSH".into()), ..rule(0, RuleType::In, "ACCEPT") };
        let dns = Rule { macro_name: Some("dns".into()), ..rule(1, RuleType::Out, "ACCEPT") };
        let off = Rule { enable: false, ..rule(2, RuleType::In, "ACCEPT") };
        let g = groups(&[("web", vec![ssh, dns, off])]);
        let vm = vec![
            Rule { comment: Some("proxfleet".into()), ..rule(0, RuleType::Group, "web") },
            Rule { proto: Some("tcp".into()), dport: Some("8080".into()), ..rule(1, RuleType::In, "REJECT") },
            rule(2, RuleType::Group, "gone"),
        ];
        let chain = effective(&vm, &g, "DROP", "ACCEPT");
        let text: Vec<String> = chain.iter().map(|r| format!("{} <{}>", r.text(), r.origin)).collect();
        assert_eq!(
            text,
            [
                "in ACCEPT tcp dport 22 <group web, rule 0 (SSH)>",
                "in REJECT tcp dport 8080 <server rule 1>",
                "in DROP <policy>",
                "out ACCEPT udp dport 53 <group web, rule 1 (DNS)>",
                "out ACCEPT tcp dport 53 <group web, rule 1 (DNS)>",
                "out ACCEPT <policy>",
            ]
        );
    }

    #[test]
    fn ssh_reaches_when_accepted_before_the_policy() {
        let names = Names::default();
        let open = vec![Rule { macro_name: Some("SSH".into()), ..rule(0, RuleType::In, "ACCEPT") }];
        let chain = effective(&open, &Groups::new(), "DROP", "ACCEPT");
        assert_eq!(reach(&chain, 22, &any(), &names), Reach::Accepted);
        assert_eq!(reach(&chain, 9100, &any(), &names), Reach::Dropped("policy".into()));
        let accept_all = effective(&[], &Groups::new(), "ACCEPT", "ACCEPT");
        assert_eq!(reach(&accept_all, 22, &any(), &names), Reach::Accepted);
        // A range of ports and a drop above the accept.
        let ranged = vec![
            Rule { proto: Some("tcp".into()), dport: Some("20:30".into()), ..rule(0, RuleType::In, "DROP") },
            Rule { macro_name: Some("SSH".into()), ..rule(1, RuleType::In, "ACCEPT") },
        ];
        let chain = effective(&ranged, &Groups::new(), "DROP", "ACCEPT");
        assert_eq!(reach(&chain, 22, &any(), &names), Reach::Dropped("server rule 0".into()));
        // udp/22 does not decide tcp/22.
        let udp = vec![Rule { proto: Some("udp".into()), dport: Some("22".into()), ..rule(0, RuleType::In, "ACCEPT") }];
        let chain = effective(&udp, &Groups::new(), "DROP", "ACCEPT");
        assert_eq!(reach(&chain, 22, &any(), &names), Reach::Dropped("policy".into()));
    }

    #[test]
    fn a_narrower_source_lets_only_some_management_sources_in() {
        let mut names = Names::default();
        names.aliases.insert("office".into(), "192.0.2.0/24".into());
        names.ipsets.insert("admins".into(), vec![("198.51.100.0/24".into(), false), ("198.51.100.7".into(), true)]);
        let from = |src: &str| {
            let r =
                Rule { macro_name: Some("SSH".into()), source: Some(src.into()), ..rule(0, RuleType::In, "ACCEPT") };
            effective(&[r], &Groups::new(), "DROP", "ACCEPT")
        };
        let mgmt = vec![parse_net("192.0.2.0/24").unwrap()];
        // From any address: a /24 is only part of it.
        assert_eq!(reach(&from("10.0.0.0/8"), 22, &any(), &names), Reach::Partly("policy".into()));
        // The management network itself, by CIDR, alias, range or a list that covers it.
        assert_eq!(reach(&from("192.0.2.0/24"), 22, &mgmt, &names), Reach::Accepted);
        assert_eq!(reach(&from("office"), 22, &mgmt, &names), Reach::Accepted);
        assert_eq!(reach(&from("192.0.2.0-192.0.2.255"), 22, &mgmt, &names), Reach::Accepted);
        assert_eq!(reach(&from("192.0.2.0/25,192.0.2.128/25"), 22, &mgmt, &names), Reach::Accepted);
        // Elsewhere: all dropped by the policy.
        assert_eq!(reach(&from("10.0.0.0/8"), 22, &mgmt, &names), Reach::Dropped("policy".into()));
        // An IP set with a nomatch entry is not all of its network.
        let admins = vec![parse_net("198.51.100.0/24").unwrap()];
        assert_eq!(reach(&from("+admins"), 22, &admins, &names), Reach::Partly("policy".into()));
        // A drop for part of them first, then an accept for all: partly.
        let chain = effective(
            &[
                Rule {
                    proto: Some("tcp".into()),
                    dport: Some("22".into()),
                    source: Some("192.0.2.128/25".into()),
                    ..rule(0, RuleType::In, "DROP")
                },
                Rule { macro_name: Some("SSH".into()), ..rule(1, RuleType::In, "ACCEPT") },
            ],
            &Groups::new(),
            "DROP",
            "ACCEPT",
        );
        assert_eq!(reach(&chain, 22, &mgmt, &names), Reach::Partly("server rule 0".into()));
    }

    #[test]
    fn addresses_parse_to_ranges() {
        assert_eq!(parse_net("10.0.0.0/8").map(|n| (n.lo, n.hi)), Some((0x0a00_0000, 0x0aff_ffff)));
        assert_eq!(parse_net("10.1.2.3").map(|n| n.lo == n.hi), Some(true));
        assert!(parse_net("10.0.0.0/33").is_none());
        assert!(parse_net("10.0.0.9-10.0.0.1").is_none());
        assert!(parse_net("::/0").is_some_and(|n| n.v6 && n.lo == 0 && n.hi == u128::MAX));
        assert!(parse_net("office").is_none());
    }

    #[test]
    fn the_diff_names_added_and_removed_rules_in_order() {
        let r = |dport: &str| EffectiveRule {
            kind: RuleType::In,
            action: "ACCEPT".into(),
            proto: Some("tcp".into()),
            dport: Some(dport.into()),
            origin: "x".into(),
            ..Default::default()
        };
        let d = diff(&[r("22"), r("80"), r("443")], &[r("22"), r("8080"), r("443"), r("9100")]);
        let got: Vec<String> = d.iter().map(|l| format!("{}{}", l.op, l.rule.dport.as_deref().unwrap_or(""))).collect();
        assert_eq!(got, ["+8080", "-80", "+9100"]);
        assert!(diff(&[r("22")], &[r("22")]).is_empty());
    }
}
