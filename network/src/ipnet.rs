//! IPv4 subnets in CIDR notation.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// An IPv4 subnet: its network address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    /// The network address (host bits zero).
    pub network: Ipv4Addr,
    /// The prefix length, 0..=32.
    pub prefix: u8,
}

impl Subnet {
    /// The subnet of `addr/prefix` (host bits dropped).
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Subnet {
        Subnet {
            network: Ipv4Addr::from(u32::from(addr) & mask(prefix)),
            prefix,
        }
    }

    /// Whether `addr` is in it.
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        u32::from(addr) & mask(self.prefix) == u32::from(self.network)
    }

    /// Whether the two share an address.
    pub fn overlaps(&self, other: &Subnet) -> bool {
        let p = self.prefix.min(other.prefix);
        u32::from(self.network) & mask(p) == u32::from(other.network) & mask(p)
    }

    /// The `n`th address (0 is the network address).
    pub fn nth(&self, n: u32) -> Option<Ipv4Addr> {
        (n < self.size()).then(|| Ipv4Addr::from(u32::from(self.network) + n))
    }

    /// How many addresses it spans.
    pub fn size(&self) -> u32 {
        if self.prefix == 0 {
            u32::MAX
        } else {
            1u32 << (32 - self.prefix)
        }
    }

    /// The broadcast address.
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) | !mask(self.prefix))
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix.min(32)))
    }
}

impl FromStr for Subnet {
    type Err = String;

    fn from_str(s: &str) -> Result<Subnet, String> {
        let bad = || format!("invalid subnet {s:?}: use an IPv4 CIDR such as 10.90.0.0/24");
        let (a, p) = s.split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = a.parse().map_err(|_| bad())?;
        let prefix: u8 = p.parse().map_err(|_| bad())?;
        if !(8..=30).contains(&prefix) {
            return Err(format!(
                "invalid subnet {s:?}: the prefix length must be between 8 and 30"
            ));
        }
        let net = Subnet::new(addr, prefix);
        if net.network != addr {
            return Err(format!(
                "invalid subnet {s:?}: it has host bits set (the network is {net})"
            ));
        }
        Ok(net)
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl serde::Serialize for Subnet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Subnet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Subnet, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_parse_and_compare() {
        let a: Subnet = "10.90.0.0/16".parse().unwrap();
        assert!(a.contains("10.90.3.4".parse().unwrap()));
        assert!(!a.contains("10.91.0.1".parse().unwrap()));
        assert!(a.overlaps(&"10.90.7.0/24".parse().unwrap()));
        assert!(!a.overlaps(&"10.91.0.0/24".parse().unwrap()));
        assert_eq!(a.nth(1), Some("10.90.0.1".parse().unwrap()));
        assert_eq!(a.broadcast(), "10.90.255.255".parse::<Ipv4Addr>().unwrap());
        assert!("10.90.0.1/16"
            .parse::<Subnet>()
            .unwrap_err()
            .contains("host bits"));
        assert!("10.90.0.0".parse::<Subnet>().is_err());
        assert!("10.90.0.0/31".parse::<Subnet>().is_err());
        assert!("fish/24".parse::<Subnet>().is_err());
    }
}
