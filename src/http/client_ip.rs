//! Which address a request came from, for the brute-force lock and the hook event: the
//! `X-Forwarded-For` rule.

/// The client's IP: the peer, unless the peer is a trusted proxy, in which case the
/// right-most `X-Forwarded-For` entry that is not itself a trusted proxy (entries further left
/// could be forged by the client).
pub fn client_ip(
    peer: std::net::IpAddr,
    forwarded_for: Option<&str>,
    trusted: &[std::net::IpAddr],
) -> std::net::IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let Some(xff) = forwarded_for else {
        return peer;
    };
    for hop in xff.rsplit(',') {
        match hop.trim().parse::<std::net::IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => continue,
            Ok(ip) => return ip,
            Err(_) => return peer,
        }
    }
    peer
}

#[cfg(test)]
mod tests {
    use super::client_ip;

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let proxy = "10.0.0.1".parse().unwrap();
        let peer_untrusted = "192.0.2.5".parse().unwrap();
        let trusted = [proxy];
        assert_eq!(
            client_ip(peer_untrusted, Some("203.0.113.9"), &trusted),
            peer_untrusted
        );
        assert_eq!(
            client_ip(proxy, Some("203.0.113.9"), &trusted).to_string(),
            "203.0.113.9"
        );
        // A client-supplied entry on the left is ignored: the proxy appended the real one.
        assert_eq!(
            client_ip(proxy, Some("1.2.3.4, 203.0.113.9"), &trusted).to_string(),
            "203.0.113.9"
        );
        assert_eq!(
            client_ip(proxy, Some("203.0.113.9, 10.0.0.1"), &trusted).to_string(),
            "203.0.113.9"
        );
        assert_eq!(client_ip(proxy, Some("garbage"), &trusted), proxy);
        assert_eq!(client_ip(proxy, None, &trusted), proxy);
    }
}
