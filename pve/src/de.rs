//! Lenient decoding of Perl-generated JSON: numbers may arrive as strings (`nextid` is
//! `"101"`), booleans as `0`/`1`, memory as `"2048"`. Every numeric or boolean field of our
//! response types goes through these.

use serde::de::{self, Deserializer};
use serde::Deserialize;
use serde_json::Value;

fn to_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

pub fn u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let v = Value::deserialize(d)?;
    match &v {
        Value::Number(n) if n.as_u64().is_some() => Ok(n.as_u64().unwrap_or_default()),
        _ => to_f64(&v)
            .filter(|f| *f >= 0.0 && f.is_finite())
            .map(|f| f as u64)
            .ok_or_else(|| de::Error::custom(format!("expected an unsigned number, got {v}"))),
    }
}

pub fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => u64(v).map(Some).map_err(de::Error::custom),
    }
}

pub fn f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let v = Value::deserialize(d)?;
    to_f64(&v).ok_or_else(|| de::Error::custom(format!("expected a number, got {v}")))
}

pub fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => to_f64(&v).map(Some).ok_or_else(|| de::Error::custom(format!("expected a number, got {v}"))),
    }
}

/// `0`/`1`, `"0"`/`"1"`, `true`/`false`; absent = false.
pub fn bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    match v {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(b),
        Some(v) => {
            to_f64(&v).map(|f| f != 0.0).ok_or_else(|| de::Error::custom(format!("expected a boolean, got {v}")))
        }
    }
}

/// `0`/`1`, `"0"`/`"1"`, `true`/`false`; absent = `None` (the option's default applies).
pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(b)),
        Some(v) => {
            to_f64(&v).map(|f| Some(f != 0.0)).ok_or_else(|| de::Error::custom(format!("expected a boolean, got {v}")))
        }
    }
}

/// A string, or a number rendered as one.
pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    Ok(match v {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(other) => Some(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct T {
        #[serde(deserialize_with = "super::u64")]
        a: u64,
        #[serde(default, deserialize_with = "super::bool")]
        b: bool,
        #[serde(default, deserialize_with = "super::opt_f64")]
        c: Option<f64>,
    }

    #[test]
    fn accepts_perl_shapes() {
        for (json, a, b) in
            [(r#"{"a":"101","b":1}"#, 101, true), (r#"{"a":7,"b":"0"}"#, 7, false), (r#"{"a":2.0}"#, 2, false)]
        {
            let t: T = serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!((t.a, t.b), (a, b));
        }
        let t: T = serde_json::from_str(r#"{"a":1,"c":"1.5"}"#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.c, Some(1.5));
        assert!(serde_json::from_str::<T>(r#"{"a":"x"}"#).is_err());
    }
}
