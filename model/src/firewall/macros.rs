//! Proxmox VE's firewall macros, transcribed from pve-firewall's macro table (`src/PVE/Firewall.pm`,
//! pve-firewall 6.0.x as shipped with PVE 9; read at commit 6f1311f3): the IPv4/common table, its
//! descriptions, and the IPv6 table (two IPv6-only macros plus IPv6 overrides of `Ping` and `Trcrt`).
//!
//! A rule with `macro` set expands to one rule per [`MacroEntry`]. Every expanded rule keeps the
//! rule's own type (direction), action, interface, source, dest and log level, and takes proto,
//! dport and sport from the entry. A field the entry sets may not also be given on the rule with a
//! different value (PVE rejects that with "parameter 'x' already define in macro"); a field the
//! entry leaves empty comes from the rule.
//!
//! PVE's table has no entries with a fixed action or with source/dest set: every entry takes the
//! rule's action ("PARAM") and none uses the 'SOURCE'/'DEST' placeholders PVE's expander supports.
//! For ICMP entries (`icmp`, `icmpv6`) `dport` holds the ICMP type name, as in PVE.

/// One rule a macro expands to. Empty strings mean "not set by the macro" (the rule's own value applies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MacroEntry {
    /// `tcp`, `udp`, `icmp`, `icmpv6` (PVE's spelling in the macro table; it also accepts
    /// `ipv6-icmp` in rules), a protocol number as text (`47`, `50`, …), or "" (any). Every entry
    /// in PVE's table sets a protocol.
    pub proto: &'static str,
    /// Destination port(s) exactly as PVE writes them (`22`, `6881:6889`, `135,445`), or the ICMP
    /// type for ICMP entries (`echo-request`).
    pub dport: &'static str,
    /// Source port(s), same syntax; set only by DHCPfwd, DHCPv6, IPsec, IPsecah and one SMB entry.
    pub sport: &'static str,
    /// Source address set by the entry. PVE's expander would substitute the rule's source for the
    /// placeholder 'SOURCE' and the rule's dest for 'DEST' (in any field), but no macro in the
    /// table uses them, so these are always "".
    pub source: &'static str,
    /// Destination address set by the entry; always "" (see `source`).
    pub dest: &'static str,
    /// "PARAM" when the entry takes the rule's action (all entries in PVE's table); otherwise the
    /// fixed action PVE would use.
    pub action: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MacroDef {
    /// Canonical spelling (PVE matches macro names case-insensitively and stores this spelling).
    pub name: &'static str,
    /// PVE's description, verbatim (typos included).
    pub description: &'static str,
    /// True for the macros defined only in PVE's IPv6 table (NeighborDiscovery, DHCPv6): PVE skips
    /// them when generating IPv4 rules. Ping and Trcrt exist for both families and are false.
    pub ipv6_only: bool,
    pub entries: &'static [MacroEntry],
}

/// An entry taking the rule's action, source and dest.
const fn e(proto: &'static str, dport: &'static str, sport: &'static str) -> MacroEntry {
    MacroEntry { proto, dport, sport, source: "", dest: "", action: "PARAM" }
}

/// All 86 macros, in the order of [`crate::firewall::MACROS`].
pub const MACRO_DEFS: &[MacroDef] = &[
    MacroDef {
        name: "Amanda",
        description: "Amanda Backup",
        ipv6_only: false,
        entries: &[e("udp", "10080", ""), e("tcp", "10080", "")],
    },
    MacroDef { name: "Auth", description: "Auth (identd) traffic", ipv6_only: false, entries: &[e("tcp", "113", "")] },
    MacroDef {
        name: "BGP",
        description: "Border Gateway Protocol traffic",
        ipv6_only: false,
        entries: &[e("tcp", "179", "")],
    },
    MacroDef {
        name: "BitTorrent",
        description: "BitTorrent traffic for BitTorrent 3.1 and earlier",
        ipv6_only: false,
        entries: &[e("tcp", "6881:6889", ""), e("udp", "6881", "")],
    },
    MacroDef {
        name: "BitTorrent32",
        description: "BitTorrent traffic for BitTorrent 3.2 and later",
        ipv6_only: false,
        entries: &[e("tcp", "6881:6999", ""), e("udp", "6881", "")],
    },
    MacroDef {
        name: "CVS",
        description: "Concurrent Versions System pserver traffic",
        ipv6_only: false,
        entries: &[e("tcp", "2401", "")],
    },
    MacroDef {
        name: "Ceph",
        description: "Ceph Storage Cluster traffic (Ceph Monitors, OSD & MDS Daemons)",
        ipv6_only: false,
        entries: &[e("tcp", "6789", ""), e("tcp", "3300", ""), e("tcp", "6800:7300", "")],
    },
    MacroDef {
        name: "Citrix",
        description: "Citrix/ICA traffic (ICA, ICA Browser, CGP)",
        ipv6_only: false,
        entries: &[e("tcp", "1494", ""), e("udp", "1604", ""), e("tcp", "2598", "")],
    },
    MacroDef {
        name: "DAAP",
        description: "Digital Audio Access Protocol traffic (iTunes, Rythmbox daemons)",
        ipv6_only: false,
        entries: &[e("tcp", "3689", ""), e("udp", "3689", "")],
    },
    MacroDef {
        name: "DCC",
        description: "Distributed Checksum Clearinghouse spam filtering mechanism",
        ipv6_only: false,
        entries: &[e("tcp", "6277", "")],
    },
    MacroDef {
        name: "DHCPfwd",
        description: "Forwarded DHCP traffic",
        ipv6_only: false,
        entries: &[e("udp", "67:68", "67:68")],
    },
    MacroDef {
        name: "DHCPv6",
        description: "DHCPv6 traffic",
        ipv6_only: true,
        entries: &[e("udp", "546:547", "546:547")],
    },
    MacroDef {
        name: "DNS",
        description: "Domain Name System traffic (upd and tcp)",
        ipv6_only: false,
        entries: &[e("udp", "53", ""), e("tcp", "53", "")],
    },
    MacroDef {
        name: "Distcc",
        description: "Distributed Compiler service",
        ipv6_only: false,
        entries: &[e("tcp", "3632", "")],
    },
    MacroDef { name: "FTP", description: "File Transfer Protocol", ipv6_only: false, entries: &[e("tcp", "21", "")] },
    MacroDef {
        name: "Finger",
        description: "Finger protocol (RFC 742)",
        ipv6_only: false,
        entries: &[e("tcp", "79", "")],
    },
    MacroDef {
        name: "GNUnet",
        description: "GNUnet secure peer-to-peer networking traffic",
        ipv6_only: false,
        entries: &[e("tcp", "2086", ""), e("udp", "2086", ""), e("tcp", "1080", ""), e("udp", "1080", "")],
    },
    MacroDef {
        name: "GRE",
        description: "Generic Routing Encapsulation tunneling protocol",
        ipv6_only: false,
        entries: &[e("47", "", "")],
    },
    MacroDef {
        name: "Git",
        description: "Git distributed revision control traffic",
        ipv6_only: false,
        entries: &[e("tcp", "9418", "")],
    },
    MacroDef {
        name: "HKP",
        description: "OpenPGP HTTP key server protocol traffic",
        ipv6_only: false,
        entries: &[e("tcp", "11371", "")],
    },
    MacroDef {
        name: "HTTP",
        description: "Hypertext Transfer Protocol (WWW)",
        ipv6_only: false,
        entries: &[e("tcp", "80", "")],
    },
    MacroDef {
        name: "HTTPS",
        description: "Hypertext Transfer Protocol (WWW) over SSL",
        ipv6_only: false,
        entries: &[e("tcp", "443", "")],
    },
    MacroDef {
        name: "ICPV2",
        description: "Internet Cache Protocol V2 (Squid) traffic",
        ipv6_only: false,
        entries: &[e("udp", "3130", "")],
    },
    MacroDef {
        name: "ICQ",
        description: "AOL Instant Messenger traffic",
        ipv6_only: false,
        entries: &[e("tcp", "5190", "")],
    },
    MacroDef {
        name: "IMAP",
        description: "Internet Message Access Protocol",
        ipv6_only: false,
        entries: &[e("tcp", "143", "")],
    },
    MacroDef {
        name: "IMAPS",
        description: "Internet Message Access Protocol over SSL",
        ipv6_only: false,
        entries: &[e("tcp", "993", "")],
    },
    MacroDef { name: "IPIP", description: "IPIP capsulation traffic", ipv6_only: false, entries: &[e("94", "", "")] },
    MacroDef {
        name: "IPsec",
        description: "IPsec traffic",
        ipv6_only: false,
        entries: &[e("udp", "500", "500"), e("50", "", "")],
    },
    MacroDef {
        name: "IPsecah",
        description: "IPsec authentication (AH) traffic",
        ipv6_only: false,
        entries: &[e("udp", "500", "500"), e("51", "", "")],
    },
    MacroDef {
        name: "IPsecnat",
        description: "IPsec traffic and Nat-Traversal",
        ipv6_only: false,
        entries: &[e("udp", "500", ""), e("udp", "4500", ""), e("50", "", "")],
    },
    MacroDef {
        name: "IRC",
        description: "Internet Relay Chat traffic",
        ipv6_only: false,
        entries: &[e("tcp", "6667", "")],
    },
    MacroDef {
        name: "Jetdirect",
        description: "HP Jetdirect printing",
        ipv6_only: false,
        entries: &[e("tcp", "9100", "")],
    },
    MacroDef {
        name: "L2TP",
        description: "Layer 2 Tunneling Protocol traffic",
        ipv6_only: false,
        entries: &[e("udp", "1701", "")],
    },
    MacroDef {
        name: "LDAP",
        description: "Lightweight Directory Access Protocol traffic",
        ipv6_only: false,
        entries: &[e("tcp", "389", "")],
    },
    MacroDef {
        name: "LDAPS",
        description: "Secure Lightweight Directory Access Protocol traffic",
        ipv6_only: false,
        entries: &[e("tcp", "636", "")],
    },
    MacroDef { name: "MDNS", description: "Multicast DNS", ipv6_only: false, entries: &[e("udp", "5353", "")] },
    MacroDef {
        name: "MSNP",
        description: "Microsoft Notification Protocol",
        ipv6_only: false,
        entries: &[e("tcp", "1863", "")],
    },
    MacroDef { name: "MSSQL", description: "Microsoft SQL Server", ipv6_only: false, entries: &[e("tcp", "1433", "")] },
    MacroDef {
        name: "Mail",
        description: "Mail traffic (SMTP, SMTPS, Submission)",
        ipv6_only: false,
        entries: &[e("tcp", "25", ""), e("tcp", "465", ""), e("tcp", "587", "")],
    },
    MacroDef {
        name: "Munin",
        description: "Munin networked resource monitoring traffic",
        ipv6_only: false,
        entries: &[e("tcp", "4949", "")],
    },
    MacroDef { name: "MySQL", description: "MySQL server", ipv6_only: false, entries: &[e("tcp", "3306", "")] },
    MacroDef { name: "NNTP", description: "NNTP traffic (Usenet).", ipv6_only: false, entries: &[e("tcp", "119", "")] },
    MacroDef {
        name: "NNTPS",
        description: "Encrypted NNTP traffic (Usenet)",
        ipv6_only: false,
        entries: &[e("tcp", "563", "")],
    },
    MacroDef {
        name: "NTP",
        description: "Network Time Protocol (ntpd)",
        ipv6_only: false,
        entries: &[e("udp", "123", "")],
    },
    MacroDef {
        name: "NeighborDiscovery",
        description: "IPv6 neighbor solicitation, neighbor and router advertisement",
        ipv6_only: true,
        entries: &[
            e("icmpv6", "router-solicitation", ""),
            e("icmpv6", "router-advertisement", ""),
            e("icmpv6", "neighbor-solicitation", ""),
            e("icmpv6", "neighbor-advertisement", ""),
        ],
    },
    MacroDef { name: "OSPF", description: "OSPF multicast traffic", ipv6_only: false, entries: &[e("89", "", "")] },
    MacroDef { name: "OpenVPN", description: "OpenVPN traffic", ipv6_only: false, entries: &[e("udp", "1194", "")] },
    MacroDef {
        name: "PCA",
        description: "Symantec PCAnywere (tm)",
        ipv6_only: false,
        entries: &[e("udp", "5632", ""), e("tcp", "5631", "")],
    },
    MacroDef {
        name: "PMG",
        description: "Proxmox Mail Gateway web interface",
        ipv6_only: false,
        entries: &[e("tcp", "8006", "")],
    },
    MacroDef { name: "POP3", description: "POP3 traffic", ipv6_only: false, entries: &[e("tcp", "110", "")] },
    MacroDef {
        name: "POP3S",
        description: "Encrypted POP3 traffic",
        ipv6_only: false,
        entries: &[e("tcp", "995", "")],
    },
    MacroDef {
        name: "PPtP",
        description: "Point-to-Point Tunneling Protocol",
        ipv6_only: false,
        entries: &[e("47", "", ""), e("tcp", "1723", "")],
    },
    // IPv4: icmp echo-request. PVE overrides Ping for IPv6 rules with a single icmpv6 echo-request
    // entry (the icmp one is not used there); both are listed here, IPv4 first.
    MacroDef {
        name: "Ping",
        description: "ICMP echo request",
        ipv6_only: false,
        entries: &[e("icmp", "echo-request", ""), e("icmpv6", "echo-request", "")],
    },
    MacroDef {
        name: "PostgreSQL",
        description: "PostgreSQL server",
        ipv6_only: false,
        entries: &[e("tcp", "5432", "")],
    },
    MacroDef {
        name: "Printer",
        description: "Line Printer protocol printing",
        ipv6_only: false,
        entries: &[e("tcp", "515", "")],
    },
    MacroDef {
        name: "RDP",
        description: "Microsoft Remote Desktop Protocol traffic",
        ipv6_only: false,
        entries: &[e("tcp", "3389", "")],
    },
    MacroDef {
        name: "RIP",
        description: "Routing Information Protocol (bidirectional)",
        ipv6_only: false,
        entries: &[e("udp", "520", "")],
    },
    MacroDef {
        name: "RNDC",
        description: "BIND remote management protocol",
        ipv6_only: false,
        entries: &[e("tcp", "953", "")],
    },
    MacroDef {
        name: "Razor",
        description: "Razor Antispam System",
        ipv6_only: false,
        entries: &[e("tcp", "2703", "")],
    },
    MacroDef {
        name: "Rdate",
        description: "Remote time retrieval (rdate)",
        ipv6_only: false,
        entries: &[e("tcp", "37", "")],
    },
    MacroDef { name: "Rsync", description: "Rsync server", ipv6_only: false, entries: &[e("tcp", "873", "")] },
    MacroDef { name: "SANE", description: "SANE network scanning", ipv6_only: false, entries: &[e("tcp", "6566", "")] },
    MacroDef {
        name: "SMB",
        description: "Microsoft SMB traffic",
        ipv6_only: false,
        entries: &[
            e("udp", "135,445", ""),
            e("udp", "137:139", ""),
            e("udp", "1024:65535", "137"),
            e("tcp", "135,139,445", ""),
        ],
    },
    MacroDef {
        name: "SMBswat",
        description: "Samba Web Administration Tool",
        ipv6_only: false,
        entries: &[e("tcp", "901", "")],
    },
    MacroDef {
        name: "SMTP",
        description: "Simple Mail Transfer Protocol",
        ipv6_only: false,
        entries: &[e("tcp", "25", "")],
    },
    MacroDef {
        name: "SMTPS",
        description: "Encrypted Simple Mail Transfer Protocol",
        ipv6_only: false,
        entries: &[e("tcp", "465", "")],
    },
    MacroDef {
        name: "SNMP",
        description: "Simple Network Management Protocol",
        ipv6_only: false,
        entries: &[e("udp", "161:162", ""), e("tcp", "161", "")],
    },
    MacroDef {
        name: "SPAMD",
        description: "Spam Assassin SPAMD traffic",
        ipv6_only: false,
        entries: &[e("tcp", "783", "")],
    },
    MacroDef {
        name: "SPICEproxy",
        description: "Proxmox VE SPICE display proxy traffic",
        ipv6_only: false,
        entries: &[e("tcp", "3128", "")],
    },
    MacroDef { name: "SSH", description: "Secure shell traffic", ipv6_only: false, entries: &[e("tcp", "22", "")] },
    MacroDef {
        name: "SVN",
        description: "Subversion server (svnserve)",
        ipv6_only: false,
        entries: &[e("tcp", "3690", "")],
    },
    MacroDef {
        name: "SixXS",
        description: "SixXS IPv6 Deployment and Tunnel Broker",
        ipv6_only: false,
        entries: &[e("tcp", "3874", ""), e("udp", "3740", ""), e("41", "", ""), e("udp", "5072,8374", "")],
    },
    MacroDef {
        name: "Squid",
        description: "Squid web proxy traffic",
        ipv6_only: false,
        entries: &[e("tcp", "3128", "")],
    },
    MacroDef {
        name: "Submission",
        description: "Mail message submission traffic",
        ipv6_only: false,
        entries: &[e("tcp", "587", "")],
    },
    MacroDef {
        name: "Syslog",
        description: "Syslog protocol (RFC 5424) traffic",
        ipv6_only: false,
        entries: &[e("udp", "514", ""), e("tcp", "514", "")],
    },
    MacroDef {
        name: "TFTP",
        description: "Trivial File Transfer Protocol traffic",
        ipv6_only: false,
        entries: &[e("udp", "69", "")],
    },
    MacroDef { name: "Telnet", description: "Telnet traffic", ipv6_only: false, entries: &[e("tcp", "23", "")] },
    MacroDef { name: "Telnets", description: "Telnet over SSL", ipv6_only: false, entries: &[e("tcp", "992", "")] },
    MacroDef { name: "Time", description: "RFC 868 Time protocol", ipv6_only: false, entries: &[e("tcp", "37", "")] },
    // IPv4: udp 33434:33524 + icmp echo-request. For IPv6 rules PVE uses its override instead:
    // udp 33434:33524 (identical, so listed once) + icmpv6 echo-request (appended last).
    MacroDef {
        name: "Trcrt",
        description: "Traceroute (for up to 30 hops) traffic",
        ipv6_only: false,
        entries: &[e("udp", "33434:33524", ""), e("icmp", "echo-request", ""), e("icmpv6", "echo-request", "")],
    },
    MacroDef {
        name: "VNC",
        description: "VNC traffic for VNC display's 0 - 99",
        ipv6_only: false,
        entries: &[e("tcp", "5900:5999", "")],
    },
    MacroDef {
        name: "VNCL",
        description: "VNC traffic from Vncservers to Vncviewers in listen mode",
        ipv6_only: false,
        entries: &[e("tcp", "5500", "")],
    },
    MacroDef {
        name: "Web",
        description: "WWW traffic (HTTP and HTTPS)",
        ipv6_only: false,
        entries: &[e("tcp", "80", ""), e("tcp", "443", "")],
    },
    MacroDef {
        name: "Webcache",
        description: "Web Cache/Proxy traffic (port 8080)",
        ipv6_only: false,
        entries: &[e("tcp", "8080", "")],
    },
    MacroDef { name: "Webmin", description: "Webmin traffic", ipv6_only: false, entries: &[e("tcp", "10000", "")] },
    MacroDef {
        name: "Whois",
        description: "Whois (nicname, RFC 3912) traffic",
        ipv6_only: false,
        entries: &[e("tcp", "43", "")],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_macro_name_has_exactly_one_definition_and_ssh_is_tcp_22() {
        let names = crate::firewall::MACROS;
        assert_eq!(MACRO_DEFS.len(), names.len());
        for (def, name) in MACRO_DEFS.iter().zip(names.iter()) {
            assert_eq!(def.name, *name);
            assert!(!def.entries.is_empty(), "{} has no entries", def.name);
        }
        for name in names.iter() {
            assert_eq!(MACRO_DEFS.iter().filter(|d| d.name == *name).count(), 1, "{name}");
        }
        for def in MACRO_DEFS {
            assert_eq!(names.iter().filter(|n| **n == def.name).count(), 1, "{}", def.name);
        }
        let ssh = MACRO_DEFS.iter().find(|d| d.name == "SSH").unwrap();
        assert_eq!(ssh.entries, &[e("tcp", "22", "")]);
        assert_eq!((ssh.entries[0].proto, ssh.entries[0].dport, ssh.entries[0].action), ("tcp", "22", "PARAM"));
    }
}
