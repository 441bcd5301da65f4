//! IntOrString: `targetPort: 8080` or `targetPort: http`, `maxSurge: 1` or `maxSurge: 25%`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A number or a name (of a port) or a percentage, as Kubernetes' `intstr.IntOrString`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IntOrString {
    Int(i32),
    String(String),
}

impl Serialize for IntOrString {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            IntOrString::Int(i) => s.serialize_i32(*i),
            IntOrString::String(v) => s.serialize_str(v),
        }
    }
}

impl<'de> Deserialize<'de> for IntOrString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = IntOrString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or a string")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<IntOrString, E> {
                i32::try_from(v)
                    .map(IntOrString::Int)
                    .map_err(|_| E::custom(format!("{v} is out of range")))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<IntOrString, E> {
                i32::try_from(v)
                    .map(IntOrString::Int)
                    .map_err(|_| E::custom(format!("{v} is out of range")))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<IntOrString, E> {
                Ok(IntOrString::String(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl fmt::Display for IntOrString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntOrString::Int(i) => write!(f, "{i}"),
            IntOrString::String(s) => f.write_str(s),
        }
    }
}

impl IntOrString {
    /// A port: the number itself, or the container port of that name (`lookup`).
    pub fn port(&self, lookup: impl Fn(&str) -> Option<u16>) -> Option<u16> {
        match self {
            IntOrString::Int(i) => u16::try_from(*i).ok().filter(|p| *p != 0),
            IntOrString::String(s) => match s.parse::<u16>() {
                Ok(p) if p != 0 => Some(p),
                _ => lookup(s),
            },
        }
    }

    /// A count out of `total`: the number, or a percentage of `total` rounded up or down
    /// (Kubernetes rounds maxSurge up and maxUnavailable down). None for anything else.
    pub fn scaled(&self, total: u32, round_up: bool) -> Option<u32> {
        match self {
            IntOrString::Int(i) => u32::try_from(*i).ok(),
            IntOrString::String(s) => {
                let pct: u64 = s.strip_suffix('%')?.parse().ok()?;
                let n = pct * total as u64;
                let v = if round_up { n.div_ceil(100) } else { n / 100 };
                u32::try_from(v).ok()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        let names = |n: &str| (n == "http").then_some(8080);
        assert_eq!(IntOrString::Int(80).port(names), Some(80));
        assert_eq!(IntOrString::String("http".into()).port(names), Some(8080));
        assert_eq!(IntOrString::String("grpc".into()).port(names), None);
        assert_eq!(IntOrString::Int(70000).port(names), None);
    }

    #[test]
    fn percentages() {
        let p = IntOrString::String("25%".into());
        assert_eq!(p.scaled(3, true), Some(1));
        assert_eq!(p.scaled(3, false), Some(0));
        assert_eq!(p.scaled(10, true), Some(3));
        assert_eq!(IntOrString::Int(2).scaled(10, false), Some(2));
        assert_eq!(IntOrString::String("x".into()).scaled(10, false), None);
    }

    #[test]
    fn json_forms() {
        let v: Vec<IntOrString> = serde_json::from_str(r#"[8080, "http"]"#).unwrap();
        assert_eq!(
            v,
            [IntOrString::Int(8080), IntOrString::String("http".into())]
        );
        assert_eq!(serde_json::to_string(&v).unwrap(), r#"[8080,"http"]"#);
    }
}
