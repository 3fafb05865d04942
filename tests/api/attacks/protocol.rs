//! Protocol holes: logout CSRF, introspection by public clients, repeated parameters, the brute-force lock, honest errors, `/userinfo` scope and RFC 8707 targets.
