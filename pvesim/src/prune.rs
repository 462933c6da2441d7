//! PVE's retention rules (pve-storage `prune_mark_backup_group`), as the simulator's vzdump
//! `remove` and `…/prunebackups` apply them: per guest, newest first, the rules run in a fixed
//! order (last, hourly, daily, weekly, monthly, yearly); each keeps the first backup of up to N
//! buckets not yet covered by an earlier rule and marks the rest of those buckets `remove`;
//! protected backups take no slot and are never removed; anything left unmarked is removed.

use std::collections::HashSet;

use crate::calendar::{civil, iso_week};

/// `keep-*` counts of a `prune-backups` property string.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Keep {
    pub all: bool,
    pub last: u32,
    pub hourly: u32,
    pub daily: u32,
    pub weekly: u32,
    pub monthly: u32,
    pub yearly: u32,
}

impl Keep {
    /// Parses `keep-last=3,keep-daily=7` (PVE's `validate_prune_backups`: all zero means
    /// keep-all; keep-all beside a positive option is an error).
    pub fn parse(text: &str) -> Result<Keep, String> {
        let mut k = Keep::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) =
                part.split_once('=').ok_or_else(|| format!("invalid format - missing value in '{part}'"))?;
            let n: u32 = value.parse().map_err(|_| format!("invalid format - {key}: type check ('integer') failed"))?;
            match key {
                "keep-all" => k.all = n == 1,
                "keep-last" => k.last = n,
                "keep-hourly" => k.hourly = n,
                "keep-daily" => k.daily = n,
                "keep-weekly" => k.weekly = n,
                "keep-monthly" => k.monthly = n,
                "keep-yearly" => k.yearly = n,
                other => return Err(format!("invalid format - property '{other}' not defined in schema")),
            }
        }
        if k.all && k.total() > 0 {
            return Err("keep-all cannot be set together with other options.".into());
        }
        if k.total() == 0 {
            k.all = true;
        }
        Ok(k)
    }

    /// The sum of the counts: with `remove=0` a guest with this many unprotected backups
    /// cannot get another one.
    pub fn total(&self) -> u32 {
        self.last + self.hourly + self.daily + self.weekly + self.monthly + self.yearly
    }

    /// As vzdump logs it: `keep-daily=7, keep-last=3` (keys sorted).
    pub fn describe(&self) -> String {
        let mut parts: Vec<(&str, u32)> = vec![
            ("keep-daily", self.daily),
            ("keep-hourly", self.hourly),
            ("keep-last", self.last),
            ("keep-monthly", self.monthly),
            ("keep-weekly", self.weekly),
            ("keep-yearly", self.yearly),
        ];
        parts.retain(|(_, n)| *n > 0);
        if parts.is_empty() {
            return "keep-all=1".into();
        }
        parts.iter().map(|(k, n)| format!("{k}={n}")).collect::<Vec<_>>().join(", ")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Keep,
    Remove,
    Protected,
}

impl Mark {
    pub fn as_str(self) -> &'static str {
        match self {
            Mark::Keep => "keep",
            Mark::Remove => "remove",
            Mark::Protected => "protected",
        }
    }
}

/// Marks one guest's backups, given as `(ctime, protected)`; the answer is in input order.
pub fn marks(backups: &[(u64, bool)], keep: &Keep) -> Vec<Mark> {
    let mut marks: Vec<Option<Mark>> = backups.iter().map(|(_, p)| p.then_some(Mark::Protected)).collect();
    if !keep.all {
        let mut order: Vec<usize> = (0..backups.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(backups[i].0));
        type Bucket = fn(u64) -> (i64, u32, u32, u32);
        let rules: [(u32, Bucket); 6] = [
            (keep.last, |t| (i64::try_from(t).unwrap_or(0), 0, 0, 0)),
            (keep.hourly, |t| {
                let c = civil(t);
                (c.year, c.month, c.day, c.hour + 1)
            }),
            (keep.daily, |t| {
                let c = civil(t);
                (c.year, c.month, c.day, 0)
            }),
            (keep.weekly, |t| {
                let (y, w) = iso_week(t);
                (y, w, 0, 0)
            }),
            (keep.monthly, |t| {
                let c = civil(t);
                (c.year, c.month, 0, 0)
            }),
            (keep.yearly, |t| (civil(t).year, 0, 0, 0)),
        ];
        for (count, bucket) in rules {
            if count == 0 {
                continue;
            }
            let covered: HashSet<_> =
                order.iter().filter(|&&i| marks[i] == Some(Mark::Keep)).map(|&i| bucket(backups[i].0)).collect();
            let mut opened = HashSet::new();
            for &i in &order {
                let b = bucket(backups[i].0);
                if marks[i].is_some() || covered.contains(&b) {
                    continue;
                }
                if opened.contains(&b) {
                    marks[i] = Some(Mark::Remove);
                    continue;
                }
                if opened.len() >= count as usize {
                    break;
                }
                opened.insert(b);
                marks[i] = Some(Mark::Keep);
            }
        }
    }
    let rest = if keep.all { Mark::Keep } else { Mark::Remove };
    marks.into_iter().map(|m| m.unwrap_or(rest)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::parse_stamp;

    fn at(s: &str) -> u64 {
        parse_stamp(s).unwrap_or(0)
    }

    fn run(stamps: &[(&str, bool)], keep: &str) -> Vec<&'static str> {
        let list: Vec<(u64, bool)> = stamps.iter().map(|(s, p)| (at(s), *p)).collect();
        let keep = Keep::parse(keep).unwrap_or_default();
        marks(&list, &keep).into_iter().map(Mark::as_str).collect()
    }

    // pve-storage src/test/prune_backups_test.pm, the default list (B0..B4 and protected P).
    const DEFAULT: [(&str, bool); 6] = [
        ("2018_05_26-11_18_21", false),
        ("2019_12_31-11_18_21", false),
        ("2019_12_31-11_18_51", true),
        ("2019_12_31-11_19_21", false),
        ("2020_01_01-11_18_21", false),
        ("2020_01_01-12_18_21", false),
    ];

    #[test]
    fn pve_storage_examples() {
        let cases = [
            ("keep-last=3", ["remove", "remove", "keep", "keep", "keep"]),
            ("keep-weekly=2", ["keep", "remove", "remove", "remove", "keep"]),
            ("keep-daily=1,keep-weekly=1,keep-monthly=1", ["keep", "remove", "keep", "remove", "keep"]),
            ("keep-hourly=4", ["keep", "remove", "keep", "keep", "keep"]),
            ("keep-yearly=2", ["remove", "remove", "keep", "remove", "keep"]),
            ("keep-last=2,keep-hourly=2", ["keep", "remove", "keep", "keep", "keep"]),
            ("keep-last=1,keep-monthly=2", ["keep", "remove", "keep", "remove", "keep"]),
            ("keep-monthly=3", ["keep", "remove", "keep", "remove", "keep"]),
            ("keep-last=1,keep-daily=1,keep-weekly=1", ["keep", "remove", "keep", "remove", "keep"]),
            ("keep-daily=2", ["remove", "remove", "keep", "remove", "keep"]),
            ("keep-weekly=1,keep-monthly=1", ["keep", "remove", "remove", "remove", "keep"]),
            ("keep-weekly=1,keep-yearly=1", ["keep", "remove", "remove", "remove", "keep"]),
            ("", ["keep", "keep", "keep", "keep", "keep"]),
            ("keep-last=0,keep-daily=0", ["keep", "keep", "keep", "keep", "keep"]),
        ];
        for (keep, want) in cases {
            let got = run(&DEFAULT, keep);
            assert_eq!(got[2], "protected", "{keep}");
            let unprotected: Vec<&str> = got.iter().enumerate().filter(|(i, _)| *i != 2).map(|(_, m)| *m).collect();
            assert_eq!(unprotected, want, "{keep}");
        }
        let december = [("2019_12_25-12_18_21", false), ("2019_12_31-12_18_21", false), ("2020_01_01-12_18_21", false)];
        assert_eq!(run(&december, "keep-daily=1,keep-weekly=1,keep-monthly=1"), ["keep", "remove", "keep"]);
        let weeks = [("2020_12_03-12_18_21", false), ("2020_12_04-12_18_21", false), ("2020_12_07-12_18_21", false)];
        assert_eq!(run(&weeks, "keep-daily=1,keep-weekly=1"), ["remove", "keep", "keep"]);
        assert_eq!(
            run(&[("1970_01_01-00_01_23", false), ("2070_01_01-00_01_00", false)], "keep-yearly=1"),
            ["remove", "keep"]
        );
    }

    #[test]
    fn pbs_examples() {
        let docs = [
            ("2019_12_04-13_20_37", false),
            ("2019_12_03-09_35_01", false),
            ("2019_11_22-11_54_47", false),
            ("2019_11_21-12_36_25", false),
            ("2019_11_10-10_42_20", false),
        ];
        assert_eq!(run(&docs, "keep-daily=1,keep-weekly=3"), ["keep", "remove", "keep", "remove", "keep"]);
        let days: Vec<(String, bool)> = [
            "2018_11_15",
            "2019_11_15",
            "2019_11_21",
            "2019_11_22",
            "2019_11_29",
            "2019_12_01",
            "2019_12_02",
            "2019_12_03",
            "2019_12_04",
        ]
        .iter()
        .map(|d| (format!("{d}-11_59_15"), false))
        .collect();
        let days: Vec<(&str, bool)> = days.iter().map(|(s, p)| (s.as_str(), *p)).collect();
        let kept = |keep: &str| -> Vec<&str> {
            run(&days, keep).iter().zip(&days).filter(|(m, _)| **m == "keep").map(|(_, (d, _))| &d[..10]).collect()
        };
        assert_eq!(kept("keep-daily=1"), ["2019_12_04"]);
        assert_eq!(kept("keep-last=1,keep-daily=1"), ["2019_12_03", "2019_12_04"]);
        assert_eq!(kept("keep-daily=1,keep-weekly=1"), ["2019_12_01", "2019_12_04"]);
        assert_eq!(kept("keep-daily=1,keep-weekly=1,keep-monthly=1"), ["2019_11_22", "2019_12_01", "2019_12_04"]);
        assert_eq!(kept("keep-monthly=1,keep-yearly=1"), ["2018_11_15", "2019_12_04"]);
        let hours = [
            ("2019_11_15-09_39_15", false),
            ("2019_11_15-10_49_15", false),
            ("2019_11_15-10_59_15", false),
            ("2019_11_15-11_39_15", false),
            ("2019_11_15-11_49_15", false),
            ("2019_11_15-11_59_15", false),
        ];
        assert_eq!(run(&hours, "keep-hourly=3"), ["keep", "remove", "keep", "remove", "remove", "keep"]);
        assert_eq!(run(&hours, "keep-hourly=2"), ["remove", "remove", "keep", "remove", "remove", "keep"]);
        let protected = [
            ("2019_11_15-09_39_15", true),
            ("2019_11_15-10_39_15", false),
            ("2019_11_15-10_49_15", false),
            ("2019_11_15-10_59_15", true),
        ];
        for keep in ["keep-last=1", "keep-hourly=1"] {
            assert_eq!(run(&protected, keep), ["protected", "remove", "keep", "protected"], "{keep}");
        }
    }

    #[test]
    fn bad_options_are_refused() {
        assert!(Keep::parse("keep-all=1,keep-last=2").is_err());
        assert!(Keep::parse("keep-often=2").is_err());
        assert!(Keep::parse("keep-last=x").is_err());
        assert_eq!(
            Keep::parse("keep-last=3,keep-daily=7").map(|k| k.describe()).unwrap_or_default(),
            "keep-daily=7, keep-last=3"
        );
    }
}
