//! Kubernetes' Quantity (`500m`, `0.5`, `128Mi`, `1e3`, `1.5Gi`): kept as written, read as
//! millicores or bytes when the plan needs a number.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A Quantity as the manifest wrote it. Kubernetes reads both `cpu: 1` and `cpu: "1"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Quantity(pub String);

/// A string that is not a Quantity, or one too large or negative for a resource.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a quantity ({1})")]
pub struct QuantityError(pub String, pub &'static str);

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Quantity;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a quantity such as 500m, 2, 128Mi")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Quantity {
    fn from(s: &str) -> Self {
        Quantity(s.to_string())
    }
}

/// The number a Quantity stands for: `mantissa × 10^-scale × multiplier`.
struct Parsed {
    mantissa: u128,
    scale: u32,
    decimal_exp: i32,
    binary_exp: u32,
}

fn parse(s: &str) -> Result<Parsed, QuantityError> {
    let bad = |why| QuantityError(s.to_string(), why);
    let body = s.strip_prefix('+').unwrap_or(s);
    if body.starts_with('-') {
        return Err(bad("negative"));
    }
    let number_end = body
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(body.len());
    let (number, suffix) = body.split_at(number_end);
    if number.is_empty() || number == "." || number.matches('.').count() > 1 {
        return Err(bad("no number"));
    }
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    let digits = format!("{int}{frac}");
    let mantissa: u128 = digits.parse().map_err(|_| bad("too many digits"))?;
    let scale = frac.len() as u32;
    let (decimal_exp, binary_exp) = match suffix {
        "" => (0, 0),
        "n" => (-9, 0),
        "u" => (-6, 0),
        "m" => (-3, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        "Ki" => (0, 10),
        "Mi" => (0, 20),
        "Gi" => (0, 30),
        "Ti" => (0, 40),
        "Pi" => (0, 50),
        "Ei" => (0, 60),
        e if e.starts_with(['e', 'E']) => {
            let exp: i32 = e[1..].parse().map_err(|_| bad("bad exponent"))?;
            if exp.abs() > 30 {
                return Err(bad("exponent out of range"));
            }
            (exp, 0)
        }
        _ => return Err(bad("unknown suffix")),
    };
    Ok(Parsed {
        mantissa,
        scale,
        decimal_exp,
        binary_exp,
    })
}

/// The value × 10^unit_exp, rounded up as Kubernetes rounds (`MilliValue`, `Value`).
fn scaled(s: &str, unit_exp: i32) -> Result<u64, QuantityError> {
    let p = parse(s)?;
    let too_large = || QuantityError(s.to_string(), "too large");
    let mut n = p
        .mantissa
        .checked_mul(1u128 << p.binary_exp)
        .ok_or_else(too_large)?;
    let exp = p.decimal_exp + unit_exp - p.scale as i32;
    if exp >= 0 {
        n = n
            .checked_mul(10u128.checked_pow(exp as u32).ok_or_else(too_large)?)
            .ok_or_else(too_large)?;
    } else {
        let d = 10u128.checked_pow((-exp) as u32).ok_or_else(too_large)?;
        n = n.div_ceil(d);
    }
    u64::try_from(n).map_err(|_| too_large())
}

impl Quantity {
    /// Checks that it is a Quantity at all.
    pub fn check(&self) -> Result<(), QuantityError> {
        parse(&self.0).map(|_| ())
    }

    /// As CPU: thousandths of a core (`500m` → 500, `0.5` → 500, `2` → 2000).
    pub fn millicores(&self) -> Result<u64, QuantityError> {
        scaled(&self.0, 3)
    }

    /// As bytes (`128Mi` → 134217728, `1G` → 10^9, `1e3` → 1000), rounded up.
    pub fn bytes(&self) -> Result<u64, QuantityError> {
        scaled(&self.0, 0)
    }

    /// The shortest exact binary spelling of a byte count (`134217728` → `128Mi`).
    pub fn from_bytes(bytes: u64) -> Quantity {
        for (suffix, shift) in [
            ("Ei", 60),
            ("Pi", 50),
            ("Ti", 40),
            ("Gi", 30),
            ("Mi", 20),
            ("Ki", 10),
        ] {
            if bytes != 0 && bytes.is_multiple_of(1u64 << shift) {
                return Quantity(format!("{}{suffix}", bytes >> shift));
            }
        }
        Quantity(bytes.to_string())
    }

    /// Millicores as Kubernetes prints them (`500` → `500m`, `2000` → `2`).
    pub fn from_millicores(millis: u64) -> Quantity {
        if millis.is_multiple_of(1000) {
            Quantity((millis / 1000).to_string())
        } else {
            Quantity(format!("{millis}m"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity(s.to_string())
    }

    #[test]
    fn cpu() {
        assert_eq!(q("500m").millicores(), Ok(500));
        assert_eq!(q("0.5").millicores(), Ok(500));
        assert_eq!(q("2").millicores(), Ok(2000));
        assert_eq!(q(".1").millicores(), Ok(100));
        assert_eq!(q("100u").millicores(), Ok(1)); // rounded up
        assert_eq!(q("1e-3").millicores(), Ok(1));
    }

    #[test]
    fn memory() {
        assert_eq!(q("128Mi").bytes(), Ok(128 << 20));
        assert_eq!(q("1G").bytes(), Ok(1_000_000_000));
        assert_eq!(q("1e3").bytes(), Ok(1000));
        assert_eq!(q("1.5Gi").bytes(), Ok(3 << 29));
        assert_eq!(q("1k").bytes(), Ok(1000));
        assert_eq!(q("64").bytes(), Ok(64));
        assert_eq!(q("+1Ki").bytes(), Ok(1024));
    }

    #[test]
    fn garbage() {
        for s in [
            "", "Mi", "1.2.3", "12XB", "-1", "1e", "abc", "1 Mi", "1e400", "99999Ei",
        ] {
            assert!(q(s).bytes().is_err(), "{s:?}");
        }
        assert_eq!(
            q("12XB").bytes().unwrap_err().to_string(),
            "\"12XB\" is not a quantity (unknown suffix)"
        );
    }

    #[test]
    fn printing() {
        assert_eq!(Quantity::from_bytes(128 << 20).0, "128Mi");
        assert_eq!(Quantity::from_bytes(1000).0, "1000");
        assert_eq!(Quantity::from_millicores(500).0, "500m");
        assert_eq!(Quantity::from_millicores(2000).0, "2");
    }
}
