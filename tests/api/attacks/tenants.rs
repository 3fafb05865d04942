//! One tenant cannot hurt another: the per-tenant hook cap and the flow budget hold while clients hang up, and pool threads survive panics.
