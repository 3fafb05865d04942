//! Which addresses a hook's fetch may connect to.
//!
//! The host resolves the destination's name itself and checks every address it gets before
//! connecting to one of them (never resolving again), so a name that points at the node's own
//! network, or is re-pointed there between a check and the connection (DNS rebinding), is
//! refused. Refused unless the operator allows a range: loopback, private (RFC 1918, RFC 4193
//! unique-local), link-local (including the cloud metadata address 169.254.169.254), shared
//! (RFC 6598), unspecified, broadcast, multicast, documentation and benchmarking ranges, and
//! the IPv6 forms that carry an IPv4 address (mapped, NAT64), which are judged by that address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// The operator's exceptions to the address rules (`--hook-fetch-allow-range`), for a CRM on
/// the private network, or a test's mock server on loopback.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedRanges(Vec<IpNet>);

impl AllowedRanges {
    /// The given ranges.
    pub fn new(ranges: Vec<IpNet>) -> Self {
        Self(ranges)
    }

    /// The ranges, as given.
    pub fn ranges(&self) -> &[IpNet] {
        &self.0
    }

    fn contain(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|r| r.contains(&ip))
    }
}

/// Why `ip` may not be connected to, or `None` when it may.
pub fn refusal(ip: IpAddr, allowed: &AllowedRanges) -> Option<&'static str> {
    if allowed.contain(ip) {
        return None;
    }
    match ip {
        IpAddr::V4(v4) => v4_refusal(v4),
        IpAddr::V6(v6) => {
            // An IPv4 address in IPv6 clothing is judged as the IPv4 address it reaches.
            if let Some(v4) = embedded_v4(v6) {
                return if allowed.contain(IpAddr::V4(v4)) {
                    None
                } else {
                    v4_refusal(v4)
                };
            }
            v6_refusal(v6)
        }
    }
}

fn v4_refusal(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    Some(match o {
        [169, 254, 169, 254] => "the cloud metadata address",
        _ if ip.is_loopback() => "a loopback address",
        _ if ip.is_private() => "a private address",
        _ if ip.is_link_local() => "a link-local address",
        _ if ip.is_unspecified() || o[0] == 0 => "an unspecified address",
        _ if ip.is_broadcast() => "the broadcast address",
        _ if ip.is_multicast() => "a multicast address",
        _ if ip.is_documentation() => "a documentation address",
        // RFC 6598 shared address space (carrier-grade NAT).
        [100, b, ..] if (64..128).contains(&b) => "a shared (carrier-grade NAT) address",
        // RFC 2544 benchmarking.
        [198, 18 | 19, ..] => "a benchmarking address",
        // RFC 6890 IETF protocol assignments (192.0.0.0/24).
        [192, 0, 0, _] => "a reserved address",
        // 240.0.0.0/4, reserved for future use.
        [a, ..] if a >= 240 => "a reserved address",
        _ => return None,
    })
}

fn v6_refusal(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    Some(match s {
        // AWS's IPv6 metadata endpoint (it is also unique-local).
        [0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254] => "the cloud metadata address",
        _ if ip.is_loopback() => "a loopback address",
        _ if ip.is_unspecified() => "an unspecified address",
        _ if ip.is_multicast() => "a multicast address",
        [a, ..] if a & 0xfe00 == 0xfc00 => "a unique-local (private) address",
        [a, ..] if a & 0xffc0 == 0xfe80 => "a link-local address",
        // fec0::/10, the deprecated site-local range.
        [a, ..] if a & 0xffc0 == 0xfec0 => "a site-local address",
        [0x2001, 0x0db8, ..] => "a documentation address",
        // 100::/64, discard-only.
        [0x0100, 0, 0, 0, ..] => "a discard-only address",
        _ => return None,
    })
}

/// The IPv4 address an IPv6 address carries: IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible
/// (`::a.b.c.d`, deprecated) and the well-known NAT64 prefix (`64:ff9b::/96`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0x0064, 0xff9b, 0, 0, 0, 0, ..] => Some(tail),
        // `::` and `::1` are IPv6's own; anything else under ::/96 is IPv4-compatible.
        [0, 0, 0, 0, 0, 0, ..] if !ip.is_unspecified() && !ip.is_loopback() => Some(tail),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(ip: &str) -> Option<&'static str> {
        refusal(ip.parse().unwrap(), &AllowedRanges::default())
    }

    #[test]
    fn the_node_s_own_networks_are_refused_by_name() {
        for (ip, why) in [
            ("127.0.0.1", "a loopback address"),
            ("127.8.9.10", "a loopback address"),
            ("10.1.2.3", "a private address"),
            ("172.16.0.1", "a private address"),
            ("192.168.1.1", "a private address"),
            ("169.254.169.254", "the cloud metadata address"),
            ("169.254.1.1", "a link-local address"),
            ("0.0.0.0", "an unspecified address"),
            ("0.1.2.3", "an unspecified address"),
            ("100.64.0.1", "a shared (carrier-grade NAT) address"),
            ("224.0.0.1", "a multicast address"),
            ("255.255.255.255", "the broadcast address"),
            ("198.18.0.1", "a benchmarking address"),
            ("240.0.0.1", "a reserved address"),
            ("::1", "a loopback address"),
            ("::", "an unspecified address"),
            ("fd00:ec2::254", "the cloud metadata address"),
            ("fd12:3456::1", "a unique-local (private) address"),
            ("fe80::1", "a link-local address"),
            ("ff02::1", "a multicast address"),
            // IPv4 in IPv6 is judged by the IPv4 address.
            ("::ffff:127.0.0.1", "a loopback address"),
            ("::ffff:169.254.169.254", "the cloud metadata address"),
            ("64:ff9b::10.0.0.1", "a private address"),
            ("::10.0.0.1", "a private address"),
        ] {
            assert_eq!(refused(ip), Some(why), "{ip}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "93.184.216.34",
            "1.1.1.1",
            "100.128.0.1",
            "2606:4700:4700::1111",
            "::ffff:93.184.216.34",
            "64:ff9b::1.1.1.1",
        ] {
            assert_eq!(refused(ip), None, "{ip}");
        }
    }

    #[test]
    fn an_operator_range_allows_only_itself() {
        let allowed = AllowedRanges::new(vec!["127.0.0.0/8".parse().unwrap()]);
        assert_eq!(refusal("127.0.0.1".parse().unwrap(), &allowed), None);
        assert_eq!(refusal("::ffff:127.0.0.1".parse().unwrap(), &allowed), None);
        assert_eq!(
            refusal("10.0.0.1".parse().unwrap(), &allowed),
            Some("a private address")
        );
        assert_eq!(
            refusal("169.254.169.254".parse().unwrap(), &allowed),
            Some("the cloud metadata address")
        );
    }
}
