//! Sessions survive server-side failures (RFC 9700 4.14.2 is about theft, not our errors), and revocation reaches every token a family or code issued (RFC 7009 2.1, RFC 6749 4.1.2).
