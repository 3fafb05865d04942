//! Uploads: compiling is bounded (workers, per-tenant rate), and a refused upload stores nothing.
