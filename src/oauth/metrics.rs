//! Counters of the login endpoints for `/metrics`: what the brute-force lock refused is
//! invisible on the wire (a locked attempt answers exactly like a wrong password, so nobody
//! learns which accounts exist or are under attack), so operators see it here.

use std::sync::atomic::{AtomicU64, Ordering};

/// How one password attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// The password was right.
    Ok,
    /// The password was verified and wrong (or the user is unknown).
    Wrong,
    /// The (user, IP) pair was locked: the password was not even compared.
    Locked,
}

const RESULTS: [(Attempt, &str); 3] = [
    (Attempt::Ok, "ok"),
    (Attempt::Wrong, "wrong"),
    (Attempt::Locked, "locked"),
];

/// Password-attempt counters, by result.
#[derive(Debug, Default)]
pub struct LoginMetrics {
    attempts: [AtomicU64; 3],
}

impl LoginMetrics {
    /// Counts one attempt.
    pub fn attempt(&self, a: Attempt) {
        if let Some(i) = RESULTS.iter().position(|(r, _)| *r == a) {
            self.attempts[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::from(
            "# HELP sigil_password_attempts_total Password logins (grant and hosted page) by result; \
             `locked` were refused by the brute-force lock without comparing the password.\n\
             # TYPE sigil_password_attempts_total counter\n",
        );
        for ((_, name), c) in RESULTS.iter().zip(&self.attempts) {
            out.push_str(&format!(
                "sigil_password_attempts_total{{result=\"{name}\"}} {}\n",
                c.load(Ordering::Relaxed)
            ));
        }
        out
    }
}
